/*
 * azure-config: reads an ossec.conf and prints its <wodle name="azure-logs">
 * requests as shell lines for the launcher (azure-logs --config) to eval:
 *
 *   azure_global 'WORD' ...
 *   azure_request LINE 'WORD' ...
 *
 * The whole file is read first (as root, if so started), then --user
 * drops privileges before any of it is parsed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(
	    status ? stderr : stdout,
	    "usage: azure-config [-d N] [--user NAME] FILE|-\n"
	    "\n"
	    "Reads the <wodle name=\"azure-logs\"> blocks of an ossec.conf "
	    "(FILE, or - for\n"
	    "stdin) and prints, for azure-logs --config to eval (POSIX sh, "
	    "every word\n"
	    "single-quoted):\n"
	    "  azure_global 'WORD' ...         the <wodle>'s global settings "
	    "(at most once)\n"
	    "  azure_request LINE 'WORD' ...   one per valid <request> or "
	    "<container>\n"
	    "WORDs are azure-logs options: Wazuh's for each element, ours "
	    "for the\n"
	    "attributes (jobs, db, cloud, proxy, overlap, timeout, ...; see "
	    "the README).\n"
	    "Blocks with <disabled>yes</disabled> are skipped; an invalid "
	    "request or block\n"
	    "is logged with its line (FILE:LINE) and skipped, the others "
	    "still come out.\n"
	    "-d N: 0 errors and warnings, 1 also each request found, 2 also "
	    "each element.\n"
	    "--user NAME: started as root, read FILE, then run as NAME to "
	    "parse it\n"
	    "(started as another user, NAME must be that user).\n"
	    "Input over 16 MiB is refused.\n"
	    "Exit status: 0 the file parsed (even if blocks were skipped), 1 "
	    "unreadable,\n"
	    "not well-formed or no azure-logs wodle, 100 usage error.\n");
	exit(status);
}

/* The whole of FILE (- for stdin) into B; exits 1 when it cannot. */
static void
read_input(const char *path, const char *name, struct buf *b)
{
	char chunk[65536];
	ssize_t n;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_error("cannot open %s", name);
		exit(EXIT_RUNTIME);
	}
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			log_error("cannot read %s", name);
			exit(EXIT_RUNTIME);
		}
		if (n == 0)
			break;
		if (buf_append(b, chunk, (size_t)n) == -1) {
			log_errorx("%s: larger than %u MiB: refused", name,
				   CONF_INPUT_MAX >> 20);
			exit(EXIT_RUNTIME);
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"debug", required_argument, NULL, 'd'},
	    {"user", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	struct conf_result res;
	struct buf in, out;
	const char *errstr, *user = NULL, *path, *name;
	int c, rc, debug = 0;

	log_init("azure-config", 0);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			debug = (int)strtonum(optarg, 0, 2, &errstr);
			if (errstr)
				usage_error("-d %s: must be 0, 1 or 2", optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("azure-config %s\n", AZURE_LOGS_VERSION);
			return 0;
		default:
			usage_error("unknown option or missing value: %s",
				    argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		usage_error("one FILE (or -) is needed");
	log_init("azure-config", debug);
	path = argv[optind];
	name = strcmp(path, "-") == 0 ? "stdin" : path;

	buf_init(&in, CONF_INPUT_MAX);
	read_input(path, name, &in);
	priv_drop(user);
	buf_init(&out, CONF_OUTPUT_MAX + (1u << 20));
	rc = conf_parse(name, in.data ? in.data : "", in.len, &out, &res);
	buf_free(&in);
	if (rc == -1) {
		buf_free(&out);
		return EXIT_RUNTIME;
	}
	if (write_all(STDOUT_FILENO, out.data, out.len) == -1)
		fatal("cannot write the requests");
	log_info("%s: %d request(s) from %d azure-logs wodle(s), %d "
		 "skipped",
		 name, res.requests, res.wodles, res.skipped);
	buf_free(&out);
	return 0;
}
