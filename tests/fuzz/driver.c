/*
 * Runs a fuzz target over files, without libFuzzer: make check feeds it the
 * seed corpus (tests/fuzz/corpus/<target>/), so every hostile input found
 * once stays a regression test. With clang, make fuzz links the same
 * targets against libFuzzer instead.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
main(int argc, char **argv)
{
	static uint8_t data[1 << 20];
	size_t n;
	FILE *f;
	int i;

	for (i = 1; i < argc; i++) {
		if ((f = fopen(argv[i], "rb")) == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(data, 1, sizeof(data), f);
		fclose(f);
		LLVMFuzzerTestOneInput(data, n);
	}
	printf("%d inputs\n", argc - 1);
	return 0;
}
