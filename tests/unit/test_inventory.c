/* Unit tests for the inventory's pure parts and its careful reads: OpenSSH public key lines
 * into SHA256 fingerprints (the fingerprints below are ssh-keygen -l's for these keys), lines
 * that hold no key, and inv_read: a FIFO or a symlink is not read, a long file is cut at its
 * bound, and every file and byte is charged to the run's budget, which cuts a run short. */
#include "agent/inventory.h"
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ED "AAAAC3NzaC1lZDI1NTE5AAAAIMox5KK6gzIb3NVFCaN/Ar+ZHKkW7+/DpB+bdHDwFJjC"
#define ED_FP "SHA256:4Gi6VtiGlypByOKbu8WNF+gyEKR+AEq4v6aPqYai6/Y"
#define RSA                                                                                        \
	"AAAAB3NzaC1yc2EAAAADAQABAAAAgQD0lFIXiR/hlzwiIAMg4EDIHFIWwYBlYIZ0WCytg8SuqG/D23YIYV0/"     \
	"xDeV3VnExFC7RxtN486WT1FGc6Ogq+rsyOL6TCb17Fv1VF3wVZb4HEptLhcaRTX6lXmbuRkZ7E+"              \
	"ItPXTM1s53QsrE6GB6PHqbTAtHRBYeFCHwyTrF15LcQ=="
#define RSA_FP "SHA256:BCXSxV0mFnz1eUKtx/lvy5s8NAc+1Itxc45IvV7IpFQ"

static bool parse(const char *line, struct inv_key *k)
{
	return inv_parse_key(line, strlen(line), k);
}

static void test_keys(void)
{
	struct inv_key k;
	CHECK("key_ed25519", parse("ssh-ed25519 " ED " u@h", &k) && !strcmp(k.fp, ED_FP) &&
				     !strcmp(k.type, "ssh-ed25519") && !k.options &&
				     k.comment_len == 3 && !memcmp(k.comment, "u@h", 3));
	CHECK("key_rsa",
	      parse("ssh-rsa " RSA " r@h\r", &k) && !strcmp(k.fp, RSA_FP) && k.comment_len == 3);
	CHECK("key_options_quoted_blanks",
	      parse("from=\"10.0.0.1\",command=\"/bin/echo a b\" ssh-ed25519 " ED, &k) &&
		      !strcmp(k.fp, ED_FP) && k.options && k.comment_len == 0);
	CHECK("key_leading_blanks", parse("  \tssh-ed25519 " ED "  ", &k) && !strcmp(k.fp, ED_FP));
	CHECK("key_comment_line", !parse("# ssh-ed25519 " ED, &k));
	CHECK("key_blank_line", !parse("   ", &k) && !parse("", &k));
	CHECK("key_garbage", !parse("not a key line", &k));
	/* a blob whose encoded type is not the line's: no key */
	CHECK("key_type_mismatch", !parse("ssh-rsa " ED, &k));
	CHECK("key_bad_base64", !parse("ssh-ed25519 AAAA*AAA", &k));
	CHECK("key_truncated_blob", !parse("ssh-ed25519 AAAAC3Nza", &k));
	CHECK("key_over_long_type",
	      !parse("ssh-"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " ED,
		     &k));
}

static bool no_push(struct inv_run *r, enum inv_kind kind, const char *body, size_t len)
{
	return true;
}

static void run_init(struct inv_run *r, uint64_t max_files, uint64_t max_bytes)
{
	static const volatile int never = 0;
	memset(r, 0, sizeof(*r));
	r->lim = (struct inv_limits){60000, max_files, max_bytes, 1000};
	r->stop = &never;
	r->push = no_push;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r->start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_read(void)
{
	char dir[] = "/tmp/hwinvu.XXXXXX", p[128], q[128];
	if (!mkdtemp(dir)) {
		CHECK("read_tmpdir", 0);
		return;
	}
	struct inv_run r;
	size_t len;
	bool cut;
	snprintf(p, sizeof(p), "%s/f", dir);
	FILE *f = fopen(p, "w");
	fputs("0123456789", f);
	fclose(f);
	run_init(&r, 100, 1000);
	char *b = inv_read(&r, AT_FDCWD, p, 4, &len, &cut);
	CHECK("read_cut_at_bound", b && len == 4 && cut && !memcmp(b, "0123", 4) && !b[4]);
	free(b);
	b = inv_read(&r, AT_FDCWD, p, 100, &len, &cut);
	CHECK("read_whole", b && len == 10 && !cut);
	free(b);
	CHECK("read_charged", r.files == 2 && r.bytes == 14);
	b = inv_read(&r, AT_FDCWD, "/proc/self/stat", 4096, &len, &cut);
	CHECK("read_proc_file_of_size_0", b && len > 10 && !cut);
	free(b);
	snprintf(q, sizeof(q), "%s/fifo", dir);
	mkfifo(q, 0600);
	b = inv_read(&r, AT_FDCWD, q, 100, &len, &cut); /* would block if opened for reading */
	CHECK("read_fifo_refused", !b && errno == EINVAL);
	snprintf(q, sizeof(q), "%s/link", dir);
	symlink(p, q);
	b = inv_read(&r, AT_FDCWD, q, 100, &len, &cut);
	CHECK("read_symlink_refused", !b);
	unlink(q);
	snprintf(q, sizeof(q), "%s/fifo", dir);
	unlink(q);

	run_init(&r, 3, 1000);
	for (int i = 0; i < 3; i++)
		free(inv_read(&r, AT_FDCWD, p, 100, &len, NULL));
	CHECK("budget_files_not_yet", !inv_over(&r));
	b = inv_read(&r, AT_FDCWD, p, 100, &len, NULL);
	CHECK("budget_files_cut", !b && inv_over(&r) && !strcmp(r.cut, "io") && r.files == 4);
	run_init(&r, 100, 15);
	free(inv_read(&r, AT_FDCWD, p, 100, &len, NULL));
	CHECK("budget_bytes_not_yet", !inv_over(&r));
	free(inv_read(&r, AT_FDCWD, p, 100, &len, NULL));
	CHECK("budget_bytes_cut", inv_over(&r) && !strcmp(r.cut, "io"));
	run_init(&r, 100, 1000);
	r.lim.max_items = 2;
	jb_init(&r.item, 256);
	inv_item_begin(&r);
	bool a = inv_item_end(&r, INV_UID0);
	inv_item_begin(&r);
	bool c = inv_item_end(&r, INV_UID0);
	inv_item_begin(&r);
	bool d = inv_item_end(&r, INV_UID0);
	CHECK("budget_items_cut",
	      a && c && !d && !strcmp(r.cut, "items") && r.counts[INV_UID0] == 2);
	jb_free(&r.item);
	unlink(p);
	rmdir(dir);
}

int main(void)
{
	test_keys();
	test_read();
	return unit_failed;
}
