/* key.c - vmfabric-key: make and inspect CURVE key pairs (czmq zcert files) */

#include <stdio.h>
#include <string.h>

#include "cert.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmfabric-key generate [--force] PATH/NAME\n"
		"       vmfabric-key public FILE\n"
		"       vmfabric-key check FILE\n"
		"\n"
		"  generate  write PATH/NAME (public certificate, 0644) and PATH/NAME_secret\n"
		"            (secret certificate, 0600) in czmq zcert format; refuses to\n"
		"            overwrite an existing key pair unless --force is given\n"
		"  public    print the Z85 public key of a public or secret certificate\n"
		"  check     load a secret certificate as a daemon would and report problems\n"
		"  -h, --help     this help\n"
		"  -V, --version  print the version\n");
}

int main(int argc, char **argv)
{
	char why[1024], z85[CERT_Z85_LEN + 1];
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("vmfabric-key %s\n", VMFABRIC_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "generate")) {
		int force = argc == 4 && !strcmp(argv[2], "--force");

		if (argc != 3 + force) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (cert_generate(argv[2 + force], force, why, sizeof(why))) {
			fprintf(stderr, "vmfabric-key: %s\n", why);
			return 1;
		}
		if (cert_load_public(argv[2 + force], pub, why, sizeof(why))) {
			fprintf(stderr, "vmfabric-key: %s\n", why);
			return 1;
		}
		printf("%s\n", cert_z85(pub, z85));
		return 0;
	}
	if (!strcmp(cmd, "public") && argc == 3) {
		if (cert_load_public(argv[2], pub, why, sizeof(why))) {
			fprintf(stderr, "vmfabric-key: %s\n", why);
			return 1;
		}
		printf("%s\n", cert_z85(pub, z85));
		return 0;
	}
	if (!strcmp(cmd, "check") && argc == 3) {
		int rc = cert_load_secret(argv[2], pub, sec, why, sizeof(why));

		cert_wipe(sec, sizeof(sec));
		if (rc) {
			fprintf(stderr, "vmfabric-key: %s\n", why);
			return 1;
		}
		printf("%s: ok, public key %s\n", argv[2], cert_z85(pub, z85));
		return 0;
	}
	if (*cmd)
		fprintf(stderr, "vmfabric-key: unknown command or wrong arguments: '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
