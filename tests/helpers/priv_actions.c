/* priv_actions.c - performs the exact privileged syscalls the priv probe tests check.
 * usage: priv_actions ACTION [ARGS]; prints "key=value" lines the test compares with events.
 *   setresuid            setgroups {10,20}; root -> nobody (65534) with setresuid; a refused setuid(0)
 *   capset               drop CAP_NET_RAW (allowed), then try to raise it again (refused)
 *   chown FILE N         N chown calls that each need CAP_CHOWN
 *   rcvbufforce N        N setsockopt(SO_RCVBUFFORCE) calls (CAP_NET_ADMIN)
 *   ptrace               attach to a child (allowed) and to itself (refused); process_vm_readv
 *   memfd NAME           memfd_create(NAME, MFD_CLOEXEC|MFD_ALLOW_SEALING)
 *   wx N                 mmap RW then mprotect RWX, N times; one mmap RWX
 *   rename NAME1 NAME2   prctl(PR_SET_NAME, NAME1), then write NAME2 to /proc/self/comm
 *   ns                   unshare(UTS|IPC), a refused setns, a clone with CLONE_NEWNET
 *   mount SRC DST        in a private mount namespace: bind SRC on DST, umount, failures,
 *                        then a tmpfs on DST through fsopen/fsmount/move_mount
 *   module FILE          finit_module(FILE), delete_module("hwtest_nomod")
 *   bpf                  load a socket filter named hwtest_prog, then a refused load
 *   linkfd ID            BPF_LINK_GET_FD_BY_ID(ID)
 *   linkdetach ID        BPF_LINK_GET_FD_BY_ID(ID), then BPF_LINK_DETACH on it
 *   uprobe TYPE PATH OFF perf_event_open of a uprobe (PMU type TYPE) on PATH at offset OFF
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void res(const char *what, long r)
{
	printf("%s=%ld\n", what, r < 0 ? -(long)errno : r);
	fflush(stdout);
}

static int do_capset(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return 1;
	d[0].effective &= ~(1u << CAP_NET_RAW);
	d[0].permitted &= ~(1u << CAP_NET_RAW);
	res("capset_drop", syscall(SYS_capset, &h, d));
	d[0].effective |= 1u << CAP_NET_RAW;
	res("capset_raise", syscall(SYS_capset, &h, d));
	return 0;
}

static int do_ptrace(void)
{
	static volatile long secret = 0x5eC2e7;
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	printf("child=%d\n", c);
	res("attach", ptrace(PTRACE_ATTACH, c, 0, 0));
	waitpid(c, NULL, __WALL);
	ptrace(PTRACE_DETACH, c, 0, 0);
	res("attach_self", ptrace(PTRACE_ATTACH, getpid(), 0, 0));
	long got = 0;
	struct iovec l = {&got, sizeof(got)}, r = {(void *)&secret, sizeof(secret)};
	res("vm_readv", syscall(SYS_process_vm_readv, c, &l, 1, &r, 1, 0));
	printf("vm_read_ok=%d\n", got == secret);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	return 0;
}

static int do_ns(void)
{
	res("unshare", unshare(CLONE_NEWUTS | CLONE_NEWIPC));
	res("setns_bad", syscall(SYS_setns, 9999, CLONE_NEWNET));
	long c = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
	if (c == 0)
		_exit(0);
	res("clone", c);
	waitpid(c, NULL, 0);
	return 0;
}

static int do_mount(const char *src, const char *dst)
{
	if (unshare(CLONE_NEWNS))
		return 1;
	res("private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	res("bind", mount(src, dst, NULL, MS_BIND, NULL));
	res("umount", umount2(dst, 0));
	res("mount_bad", mount("hwnone", "/nonexistent-hwtest", "tmpfs", 0, NULL));
	res("chroot_bad", chroot("/nonexistent-hwtest"));
	/* the new mount API: fsopen, fsconfig(CREATE), fsmount, move_mount */
	int fsfd = syscall(SYS_fsopen, "tmpfs", 0);
	if (fsfd < 0 || syscall(SYS_fsconfig, fsfd, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0))
		return 1;
	long mfd = syscall(SYS_fsmount, fsfd, 0, 0);
	res("fsmount", mfd);
	res("move_mount", syscall(SYS_move_mount, (int)mfd, "", AT_FDCWD, dst,
				  0x4 /* MOVE_MOUNT_F_EMPTY_PATH */));
	return 0;
}

static int do_bpf(void)
{
	struct bpf_insn insns[2] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (unsigned long)insns;
	a.insn_cnt = 2;
	a.license = (unsigned long)"GPL";
	strcpy(a.prog_name, "hwtest_prog");
	long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	res("load", fd);
	a.insn_cnt = 0; /* refused: EINVAL */
	strcpy(a.prog_name, "hwtest_bad");
	res("load_bad", syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a)));
	return 0;
}

int main(int argc, char **argv)
{
	const char *act = argc > 1 ? argv[1] : "";
	printf("pid=%d\n", getpid());

	if (!strcmp(act, "setresuid")) {
		gid_t g[2] = {10, 20};
		res("setgroups", setgroups(2, g));
		res("setresuid", setresuid(65534, 65534, 65534));
		res("setuid_back", setuid(0));
		return 0;
	}
	if (!strcmp(act, "capset"))
		return do_capset();
	if (!strcmp(act, "chown") && argc > 3) {
		int n = atoi(argv[3]);
		for (int i = 0; i < n; i++)
			if (chown(argv[2], i & 1 ? 0 : 1, -1))
				return 1;
		res("chown", 0);
		return 0;
	}
	if (!strcmp(act, "rcvbufforce") && argc > 2) {
		int n = atoi(argv[2]), s = socket(AF_INET, SOCK_DGRAM, 0), v = 65536, fails = 0;
		for (int i = 0; i < n; i++)
			fails += setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0;
		printf("fails=%d\n", fails);
		return 0;
	}
	if (!strcmp(act, "ptrace"))
		return do_ptrace();
	if (!strcmp(act, "memfd") && argc > 2) {
		res("memfd", syscall(SYS_memfd_create, argv[2], MFD_CLOEXEC | MFD_ALLOW_SEALING));
		return 0;
	}
	if (!strcmp(act, "wx") && argc > 2) {
		int n = atoi(argv[2]);
		for (int i = 0; i < n; i++) {
			void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			res("mprotect", mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
			munmap(p, 4096);
		}
		void *q = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("mmap_ok=%d\n", q != MAP_FAILED);
		return 0;
	}
	if (!strcmp(act, "rename") && argc > 3) {
		res("prctl", prctl(PR_SET_NAME, argv[2], 0, 0, 0));
		int fd = open("/proc/self/comm", O_WRONLY);
		res("write", write(fd, argv[3], strlen(argv[3])));
		close(fd);
		return 0;
	}
	if (!strcmp(act, "ns"))
		return do_ns();
	if (!strcmp(act, "mount") && argc > 3)
		return do_mount(argv[2], argv[3]);
	if (!strcmp(act, "module") && argc > 2) {
		int fd = open(argv[2], O_RDONLY);
		printf("fd=%d\n", fd);
		res("finit", syscall(SYS_finit_module, fd, "hwparam=1", 0));
		res("delete", syscall(SYS_delete_module, "hwtest_nomod", O_NONBLOCK));
		return 0;
	}
	if (!strcmp(act, "bpf"))
		return do_bpf();
	if (!strcmp(act, "linkfd") && argc > 2) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.link_id = atoi(argv[2]);
		res("linkfd", syscall(SYS_bpf, BPF_LINK_GET_FD_BY_ID, &a, sizeof(a)));
		return 0;
	}
	if (!strcmp(act, "linkdetach") && argc > 2) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.link_id = atoi(argv[2]);
		long fd = syscall(SYS_bpf, BPF_LINK_GET_FD_BY_ID, &a, sizeof(a));
		res("linkfd", fd);
		memset(&a, 0, sizeof(a));
		a.link_detach.link_fd = fd;
		res("detach", syscall(SYS_bpf, BPF_LINK_DETACH, &a, sizeof(a)));
		return 0;
	}
	if (!strcmp(act, "uprobe") && argc > 4) {
		struct perf_event_attr pa;
		memset(&pa, 0, sizeof(pa));
		pa.size = sizeof(pa);
		pa.type = atoi(argv[2]);
		pa.config1 = (unsigned long)argv[3]; /* uprobe_path */
		pa.config2 = strtoull(argv[4], NULL, 0); /* probe_offset */
		res("uprobe", syscall(SYS_perf_event_open, &pa, -1, 0, -1, PERF_FLAG_FD_CLOEXEC));
		return 0;
	}
	fprintf(stderr, "priv_actions: unknown action '%s'\n", act);
	return 2;
}
