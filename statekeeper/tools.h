/*
 * azure-statekeeper --list, --reset KEY, --set KEY: the checkpoints of
 * azure.db, shown and repaired by hand (tools.c).
 */
#ifndef AZURE_SK_TOOLS_H
#define AZURE_SK_TOOLS_H

int tools_wanted(int argc, char **argv);
int tools_main(int argc, char **argv);

#endif
