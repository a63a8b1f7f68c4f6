/*
 * fuzz-common.h: what the rules fuzzers share. The custom filter loader
 * only reads a directory (rules_defs_load_dir()), so each input is written
 * there as files: the input is split at NUL bytes into up to FUZZ_MAX_FILES
 * filter files 0.json, 1.json, ... (so references and cycles between files
 * are reachable); a piece that starts with '<' is written as N.xml, one of
 * libvirt's XML filters. The directory is made once per process, in /dev/shm when
 * it exists (tmpfs: no disk I/O per execution), and removed at exit.
 */
#ifndef NETD_FUZZ_COMMON_H
#define NETD_FUZZ_COMMON_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_MAX_FILES 4

static char fuzz_dir[64];

static void fuzz_dir_clear(void)
{
	char path[96];

	for (int i = 0; i < FUZZ_MAX_FILES; i++) {
		snprintf(path, sizeof(path), "%s/%d.json", fuzz_dir, i);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%d.xml", fuzz_dir, i);
		unlink(path);
	}
}

static void fuzz_dir_remove(void)
{
	if (!fuzz_dir[0])
		return;
	fuzz_dir_clear();
	rmdir(fuzz_dir);
}

/* The directory, made on first use. Aborts if it cannot be made. */
static const char *fuzz_dir_get(void)
{
	if (fuzz_dir[0])
		return fuzz_dir;
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/netd-fuzz.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(fuzz_dir)) {
		perror("mkdtemp");
		abort();
	}
	atexit(fuzz_dir_remove);
	return fuzz_dir;
}

/* Write data (split at NULs) as the directory's files; how many. */
static int fuzz_write_files(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_dir_get();
	size_t pos = 0;
	int n = 0;

	fuzz_dir_clear();
	while (n < FUZZ_MAX_FILES && (pos < size || n == 0)) {
		const uint8_t *nul = memchr(data + pos, '\0', size - pos);
		size_t len = nul ? (size_t)(nul - (data + pos)) : size - pos;
		char path[96];
		int fd;

		snprintf(path, sizeof(path), "%s/%d.%s", dir, n, len > 0 && data[pos] == '<' ? "xml" : "json");
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || (len > 0 && write(fd, data + pos, len) != (ssize_t)len)) {
			perror(path);
			abort();
		}
		close(fd);
		n++;
		pos += len + (nul ? 1 : 0);
		if (!nul)
			break;
	}
	return n;
}

#endif
