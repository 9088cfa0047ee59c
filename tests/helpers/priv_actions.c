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
 *   bpf [CGROUP]         load a socket filter named hwtest_prog, then a refused load; a raw
 *                        tracepoint program hwtest_rawtp opened on task_rename; with CGROUP
 *                        (a cgroup v2 directory), a cgroup_skb program hwtest_skb attached to
 *                        it with LINK_CREATE, then that link detached
 *   mapfd ID             BPF_MAP_GET_FD_BY_ID(ID)
 *   ptraceagent PID      PTRACE_ATTACH to PID (detached at once), process_vm_readv of PID
 *   signal PID [MS]      SIGUSR2 to PID (after MS milliseconds)
 *   ids                  setgid, setregid, setresgid, setfsgid, setfsuid, setreuid as root, then
 *                        refused setfsuid, setfsgid and setgid as uid 1000
 *   ptrace2              PTRACE_SEIZE and PTRACE_POKEDATA on a child, process_vm_writev to it,
 *                        PTRACE_TRACEME in another child
 *   wxrx                 mmap RW, then mprotect to RX
 *   setns                setns into a child's new UTS namespace
 *   nsclone [clone|clone3|both]  clone(CLONE_NEWIPC) and/or clone3(CLONE_NEWUTS)
 *   pivot DIR            in a private mount namespace: tmpfs on DIR, pivot_root(DIR, DIR/old)
 *   linkfd ID            BPF_LINK_GET_FD_BY_ID(ID)
 *   linkdetach ID        BPF_LINK_GET_FD_BY_ID(ID), then BPF_LINK_DETACH on it
 *   uprobe TYPE PATH OFF perf_event_open of a uprobe (PMU type TYPE) on PATH at offset OFF
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/sched.h>
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
#include <sys/stat.h>
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

static int do_bpf(const char *cg)
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
	/* a raw tracepoint program, opened on task_rename */
	a.insn_cnt = 2;
	a.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	strcpy(a.prog_name, "hwtest_rawtp");
	long rfd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	res("rawtp_load", rfd);
	union bpf_attr o;
	memset(&o, 0, sizeof(o));
	o.raw_tracepoint.name = (unsigned long)"task_rename";
	o.raw_tracepoint.prog_fd = rfd;
	long tfd = syscall(SYS_bpf, BPF_RAW_TRACEPOINT_OPEN, &o, sizeof(o));
	res("rawtp_open", tfd);
	if (tfd >= 0)
		close(tfd);
	if (!cg)
		return 0;
	/* a cgroup_skb program that lets everything through, linked to CG */
	insns[0].imm = 1;
	a.prog_type = BPF_PROG_TYPE_CGROUP_SKB;
	a.expected_attach_type = BPF_CGROUP_INET_INGRESS;
	strcpy(a.prog_name, "hwtest_skb");
	long sfd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	res("skb_load", sfd);
	int cfd = open(cg, O_RDONLY | O_DIRECTORY);
	printf("cgfd=%d\n", cfd);
	memset(&o, 0, sizeof(o));
	o.link_create.prog_fd = sfd;
	o.link_create.target_fd = cfd;
	o.link_create.attach_type = BPF_CGROUP_INET_INGRESS;
	long lfd = syscall(SYS_bpf, BPF_LINK_CREATE, &o, sizeof(o));
	res("link_create", lfd);
	memset(&o, 0, sizeof(o));
	o.link_detach.link_fd = lfd;
	res("link_detach", syscall(SYS_bpf, BPF_LINK_DETACH, &o, sizeof(o)));
	return 0;
}

static int do_ids(void)
{
	res("setgid", setgid(50));
	res("setregid", setregid(60, 60));
	res("setresgid", setresgid(70, 70, 70));
	res("setfsgid", syscall(SYS_setfsgid, 80));
	res("setfsuid", syscall(SYS_setfsuid, 1000));
	res("setreuid", setreuid(1000, 1000));
	res("setfsuid_bad", syscall(SYS_setfsuid, 0));
	res("setfsgid_bad", syscall(SYS_setfsgid, 0));
	res("setgid_bad", setgid(0));
	return 0;
}

static int do_ptrace2(void)
{
	static volatile long secret = 1;
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	printf("child=%d\n", c);
	printf("addr=%lu\n", (unsigned long)&secret);
	res("seize", ptrace(PTRACE_SEIZE, c, 0, 0));
	res("interrupt", ptrace(PTRACE_INTERRUPT, c, 0, 0));
	waitpid(c, NULL, __WALL);
	res("poke", ptrace(PTRACE_POKEDATA, c, (void *)&secret, (void *)42L));
	ptrace(PTRACE_DETACH, c, 0, 0);
	long v = 7;
	struct iovec l = {&v, sizeof(v)}, r = {(void *)&secret, sizeof(secret)};
	res("vm_writev", syscall(SYS_process_vm_writev, c, &l, 1, &r, 1, 0));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	pid_t t = fork();
	if (t == 0) {
		long tr = ptrace(PTRACE_TRACEME, 0, 0, 0);
		_exit(tr == 0 ? 0 : 1);
	}
	printf("traceme_child=%d\n", t);
	int st = 0;
	waitpid(t, &st, 0);
	printf("traceme=%d\n", WIFEXITED(st) ? -WEXITSTATUS(st) : -99);
	return 0;
}

static int do_setns(void)
{
	int p[2];
	char ch;
	if (pipe(p))
		return 1;
	pid_t c = fork();
	if (c == 0) {
		if (unshare(CLONE_NEWUTS))
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(p[0], &ch, 1) != 1)
		return 1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/uts", c);
	int fd = open(path, O_RDONLY);
	printf("fd=%d\n", fd);
	res("setns", syscall(SYS_setns, fd, CLONE_NEWUTS));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	return 0;
}

static int do_nsclone(const char *which)
{
	long c;
	if (strcmp(which, "clone3")) {
		c = syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0);
		if (c == 0)
			_exit(0);
		res("clone", c);
		if (c > 0)
			waitpid(c, NULL, 0);
	}
	if (!strcmp(which, "clone"))
		return 0;
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_NEWUTS;
	ca.exit_signal = SIGCHLD;
	c = syscall(SYS_clone3, &ca, sizeof(ca));
	if (c == 0)
		_exit(0);
	res("clone3", c);
	if (c > 0)
		waitpid(c, NULL, 0);
	return 0;
}

static int do_pivot(const char *dir)
{
	char old[4096];
	if (unshare(CLONE_NEWNS))
		return 1;
	res("private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	res("tmpfs", mount("hwpivot", dir, "tmpfs", 0, NULL));
	snprintf(old, sizeof(old), "%s/old", dir);
	res("mkdir", mkdir(old, 0700));
	res("pivot_root", syscall(SYS_pivot_root, dir, old));
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
			void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			res("mprotect", mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
			munmap(p, 4096);
		}
		void *q = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
		return do_bpf(argc > 2 ? argv[2] : NULL);
	if (!strcmp(act, "mapfd") && argc > 2) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_id = atoi(argv[2]);
		res("mapfd", syscall(SYS_bpf, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a)));
		return 0;
	}
	if (!strcmp(act, "ptraceagent") && argc > 2) {
		pid_t t = atoi(argv[2]);
		long r = ptrace(PTRACE_ATTACH, t, 0, 0);
		res("attach", r);
		if (r == 0) {
			waitpid(t, NULL, __WALL);
			ptrace(PTRACE_DETACH, t, 0, 0);
		}
		long got = 0;
		struct iovec l = {&got, sizeof(got)}, rv = {(void *)8, sizeof(got)};
		res("vm_readv", syscall(SYS_process_vm_readv, t, &l, 1, &rv, 1, 0));
		return 0;
	}
	if (!strcmp(act, "signal") && argc > 2) {
		if (argc > 3) /* time for the agent to learn that this process is ignored */
			usleep(atoi(argv[3]) * 1000);
		res("kill", kill(atoi(argv[2]), SIGUSR2));
		return 0;
	}
	if (!strcmp(act, "ids"))
		return do_ids();
	if (!strcmp(act, "ptrace2"))
		return do_ptrace2();
	if (!strcmp(act, "wxrx")) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			       0);
		printf("addr=%lu\n", (unsigned long)p);
		res("mprotect", mprotect(p, 4096, PROT_READ | PROT_EXEC));
		return 0;
	}
	if (!strcmp(act, "setns"))
		return do_setns();
	if (!strcmp(act, "nsclone"))
		return do_nsclone(argc > 2 ? argv[2] : "both");
	if (!strcmp(act, "pivot") && argc > 2)
		return do_pivot(argv[2]);
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
		pa.config1 = (unsigned long)argv[3];     /* uprobe_path */
		pa.config2 = strtoull(argv[4], NULL, 0); /* probe_offset */
		res("uprobe", syscall(SYS_perf_event_open, &pa, -1, 0, -1, PERF_FLAG_FD_CLOEXEC));
		return 0;
	}
	fprintf(stderr, "priv_actions: unknown action '%s'\n", act);
	return 2;
}
