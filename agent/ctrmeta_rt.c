/* ctrmeta_rt.c - reads one container's identity from a container runtime's own metadata; the
 * blocking half of agent/ctrmeta.h, run only by its worker thread.
 *
 * - containerd (and Kubernetes through CRI): the task's bundle directory
 *   <containerd_state>/<namespace>/<id>/ tells the namespace, and its config.json (the OCI
 *   spec) the CRI annotations (io.kubernetes.cri.container-name, sandbox-name,
 *   sandbox-namespace, sandbox-uid, sandbox-id, image-name). Labels and the image live in
 *   containerd's bolt database, which containerd keeps locked while it runs: they are asked of
 *   containerd itself by running `ctr --address A -n NS containers info ID` (JSON) and
 *   `ctr ... images ls name==IMAGE` (the digest column); a pod's labels are those of its
 *   sandbox container (the sandbox-id annotation).
 * - Docker: <docker_root>/<id>/config.v2.json: Name, Config.Image, Image (the image id, a
 *   sha256 digest of the image config), Config.Labels.
 * - CRI-O: <crio_root>/<id>/userdata/config.json, annotations io.kubernetes.container.name,
 *   io.kubernetes.pod.{name,namespace,uid}, io.kubernetes.cri-o.ImageName, ImageRef,
 *   Labels (a JSON object in a string) and SandboxID (whose own config.json has the pod's
 *   labels).
 * Every file and every answer of ctr is bounded (HW_CTR_JSON_MAX) and parsed by the strict JSON
 * parser; a malformed one is an error with a reason, never a crash. */
#define HW_JSON_PARSE_ONLY /* the agent has its own writer (agent/json.h) */
#include "collector/json.h"
#include "agent/ctrmeta.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define HW_CTR_JSON_MAX (1u << 20) /* config.json, config.v2.json, ctr's answers */
#define HW_CTR_TIMEOUT_MS 5000     /* one run of ctr */

const char *ctr_containerd_state(const struct hw_ctrmeta_config *c)
{
	return c->containerd_state ? c->containerd_state
				   : "/run/containerd/io.containerd.runtime.v2.task";
}

const char *ctr_docker_root(const struct hw_ctrmeta_config *c)
{
	return c->docker_root ? c->docker_root : "/var/lib/docker/containers";
}

const char *ctr_crio_root(const struct hw_ctrmeta_config *c)
{
	return c->crio_root ? c->crio_root : "/var/lib/containers/storage/overlay-containers";
}

/* A parsed JSON text (owns the text and the tokens). */
struct jfile {
	char *s;
	size_t len;
	struct jtok *t;
	struct jdoc d;
};

static void jfile_free(struct jfile *f)
{
	free(f->s);
	free(f->t);
	memset(f, 0, sizeof(*f));
}

/* Parse f->s (f->len bytes); -EINVAL when it is not one JSON object. */
static int jfile_parse(struct jfile *f, const char *what, char *why, size_t whylen)
{
	int max = (int)(f->len / 2 + 16);
	f->t = malloc((size_t)max * sizeof(*f->t));
	if (!f->t) {
		snprintf(why, whylen, "%s: out of memory", what);
		return -ENOMEM;
	}
	int n = json_parse(f->s, f->len, f->t, max);
	if (n < 1 || f->t[0].type != J_OBJ) {
		snprintf(why, whylen, "%s: not a JSON object", what);
		return -EINVAL;
	}
	f->d = (struct jdoc){.s = f->s, .t = f->t, .n = n};
	return 0;
}

/* Read and parse the JSON file path: -ENOENT when it does not exist. */
static int jfile_read(struct jfile *f, const char *path, char *why, size_t whylen)
{
	memset(f, 0, sizeof(*f));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		snprintf(why, whylen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (off_t)HW_CTR_JSON_MAX) {
		close(fd);
		snprintf(why, whylen, "%s: not a regular file of at most %u bytes", path,
			 HW_CTR_JSON_MAX);
		return -EFBIG;
	}
	f->s = malloc((size_t)st.st_size + 1);
	ssize_t r = f->s ? read(fd, f->s, (size_t)st.st_size) : -1;
	close(fd);
	if (r < 0) {
		snprintf(why, whylen, "%s: read failed", path);
		jfile_free(f);
		return -EIO;
	}
	f->len = (size_t)r;
	int rc = jfile_parse(f, path, why, whylen);
	if (rc)
		jfile_free(f);
	return rc;
}

/* Wait for pid at most until deadline (ms on CLOCK_MONOTONIC), then kill it; its exit status */
static int reap(pid_t pid, uint64_t deadline)
{
	int st = 0;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return w == pid ? st : -1;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(2000);
	}
}

/* Run argv (no shell), its standard output into f (at most HW_CTR_JSON_MAX bytes) within
 * HW_CTR_TIMEOUT_MS. 0 when it exited 0; otherwise why holds its first line of stderr. */
static int run_capture(char *const argv[], struct jfile *f, char *why, size_t whylen)
{
	int out[2], err[2];
	memset(f, 0, sizeof(*f));
	if (pipe2(out, O_CLOEXEC))
		return snprintf(why, whylen, "pipe: %s", strerror(errno)), -EIO;
	if (pipe2(err, O_CLOEXEC)) {
		close(out[0]);
		close(out[1]);
		return snprintf(why, whylen, "pipe: %s", strerror(errno)), -EIO;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	if (rc) {
		close(out[0]);
		close(err[0]);
		snprintf(why, whylen, "cannot run %s: %s", argv[0], strerror(rc));
		return -rc;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	uint64_t deadline = now + HW_CTR_TIMEOUT_MS;
	size_t cap = 0, elen = 0;
	char ebuf[256];
	struct pollfd pf[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
	bool big = false;
	while ((pf[0].fd >= 0 || pf[1].fd >= 0) && now < deadline) {
		if (poll(pf, 2, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			char buf[16384];
			ssize_t r = read(pf[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
			} else if (i == 1) {
				size_t k = (size_t)r < sizeof(ebuf) - 1 - elen
						   ? (size_t)r
						   : sizeof(ebuf) - 1 - elen;
				memcpy(ebuf + elen, buf, k);
				elen += k;
			} else if (f->len + (size_t)r > HW_CTR_JSON_MAX) {
				big = true;
			} else {
				if (f->len + (size_t)r > cap) {
					size_t nc = (f->len + (size_t)r) * 2;
					char *ns = realloc(f->s, nc + 1);
					if (!ns) {
						big = true;
						continue;
					}
					f->s = ns;
					cap = nc;
				}
				memcpy(f->s + f->len, buf, (size_t)r);
				f->len += (size_t)r;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	int st = reap(pid, deadline);
	ebuf[elen] = 0;
	ebuf[strcspn(ebuf, "\n")] = 0;
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || big) {
		snprintf(why, whylen, "%s %s %s: %s", argv[0], argv[5] ? argv[5] : "",
			 argv[5] && argv[6] ? argv[6] : "",
			 st < 0 ? "timed out"
			 : big  ? "answer too long"
			 : elen ? ebuf
				: "failed");
		jfile_free(f);
		return -EIO;
	}
	if (!f->s)
		f->s = strdup("");
	return f->s ? 0 : -ENOMEM;
}

/* String member key of object obj into buf; false when absent or not a string */
static bool jstr(const struct jdoc *d, int obj, const char *key, char *buf, size_t cap)
{
	int i = obj >= 0 ? json_get(d, obj, key) : -1;
	if (i < 0 || d->t[i].type != J_STR)
		return false;
	return json_str(d, i, buf, cap) >= 0;
}

/* The configured labels from the object labels (not overwriting any already found) */
static void take_labels(const struct hw_ctrmeta_config *c, const struct jdoc *d, int labels,
			struct ctr_ident *o)
{
	if (labels < 0 || d->t[labels].type != J_OBJ)
		return;
	for (size_t i = 0; i < c->labels.n && i < HW_CTR_LABELS_MAX; i++)
		if (!o->label_set[i])
			o->label_set[i] =
				jstr(d, labels, c->labels.v[i], o->label[i], sizeof(o->label[i]));
}

/* Kubernetes' own labels on a container (kubelet sets them through CRI and dockershim) */
static void k8s_labels(const struct jdoc *d, int labels, struct ctr_ident *o)
{
	if (labels < 0 || d->t[labels].type != J_OBJ)
		return;
	if (!o->name[0])
		jstr(d, labels, "io.kubernetes.container.name", o->name, sizeof(o->name));
	if (!o->pod_name[0])
		jstr(d, labels, "io.kubernetes.pod.name", o->pod_name, sizeof(o->pod_name));
	if (!o->pod_ns[0])
		jstr(d, labels, "io.kubernetes.pod.namespace", o->pod_ns, sizeof(o->pod_ns));
	if (!o->pod_uid[0])
		jstr(d, labels, "io.kubernetes.pod.uid", o->pod_uid, sizeof(o->pod_uid));
	o->pod = o->pod || o->pod_name[0];
}

/* `ctr --address A -n ns containers info id` */
static int ctr_info(const struct hw_ctrmeta_config *c, const char *ns, const char *id,
		    struct jfile *f, char *why, size_t whylen)
{
	const char *addr =
		c->containerd_address ? c->containerd_address : "/run/containerd/containerd.sock";
	char *argv[] = {c->ctr ? c->ctr : "ctr",
			"--address",
			(char *)addr,
			"-n",
			(char *)ns,
			"containers",
			"info",
			(char *)id,
			NULL};
	int rc = run_capture(argv, f, why, whylen);
	if (!rc && (rc = jfile_parse(f, "ctr containers info", why, whylen)))
		jfile_free(f);
	return rc;
}

/* The digest of image ref in namespace ns: the DIGEST column of `ctr images ls name==REF` */
static void ctr_digest(const struct hw_ctrmeta_config *c, const char *ns, const char *ref,
		       struct ctr_ident *o)
{
	const char *addr =
		c->containerd_address ? c->containerd_address : "/run/containerd/containerd.sock";
	char filter[600];
	snprintf(filter, sizeof(filter), "name==%s", ref);
	char *argv[] = {c->ctr ? c->ctr : "ctr",
			"--address",
			(char *)addr,
			"-n",
			(char *)ns,
			"images",
			"ls",
			filter,
			NULL};
	struct jfile f;
	char why[256];
	if (run_capture(argv, &f, why, sizeof(why)))
		return;
	f.s[f.len] = 0;
	/* header "REF TYPE DIGEST ...", then one row; the digest is the third column */
	char *row = strchr(f.s, '\n');
	char *save = NULL, *tok = row ? strtok_r(row + 1, " \t\n", &save) : NULL;
	for (int col = 0; tok && col < 2; col++)
		tok = strtok_r(NULL, " \t\n", &save);
	if (tok && !strncmp(tok, "sha256:", 7))
		snprintf(o->digest, sizeof(o->digest), "%s", tok);
	jfile_free(&f);
}

static void cri_annotations(const struct jdoc *d, int ann, struct ctr_ident *o)
{
	if (ann < 0 || d->t[ann].type != J_OBJ)
		return;
	jstr(d, ann, "io.kubernetes.cri.container-name", o->name, sizeof(o->name));
	jstr(d, ann, "io.kubernetes.cri.image-name", o->image, sizeof(o->image));
	o->pod = jstr(d, ann, "io.kubernetes.cri.sandbox-name", o->pod_name, sizeof(o->pod_name));
	jstr(d, ann, "io.kubernetes.cri.sandbox-namespace", o->pod_ns, sizeof(o->pod_ns));
	jstr(d, ann, "io.kubernetes.cri.sandbox-uid", o->pod_uid, sizeof(o->pod_uid));
}

/* The namespace of containerd task id: the directory <state>/<ns>/<id> */
static int containerd_ns(const char *state, const char *id, char *ns, size_t nslen)
{
	DIR *d = opendir(state);
	if (!d)
		return -ENOENT;
	struct dirent *e;
	int rc = -ENOENT;
	while (rc && (e = readdir(d))) {
		char p[4096];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/%s", state, e->d_name, id);
		if (!stat(p, &st) && S_ISDIR(st.st_mode)) {
			snprintf(ns, nslen, "%s", e->d_name);
			rc = 0;
		}
	}
	closedir(d);
	return rc;
}

static int rt_containerd(const struct hw_ctrmeta_config *c, const char *id, struct ctr_ident *o)
{
	const char *state = ctr_containerd_state(c);
	char ns[256], path[4096], sandbox[HW_CTR_VAL_MAX] = "", image[512] = "";
	if (!state[0] || containerd_ns(state, id, ns, sizeof(ns)))
		return -ENOENT;
	o->runtime = "containerd";
	struct jfile spec, info;
	snprintf(path, sizeof(path), "%s/%s/%s/config.json", state, ns, id);
	bool have_spec = !jfile_read(&spec, path, o->why, sizeof(o->why));
	if (have_spec) {
		int ann = json_get(&spec.d, 0, "annotations");
		cri_annotations(&spec.d, ann, o);
		jstr(&spec.d, ann, "io.kubernetes.cri.sandbox-id", sandbox, sizeof(sandbox));
		jfile_free(&spec);
	}
	bool use_ctr = !c->ctr || c->ctr[0], partial = false;
	o->why[0] = 0;
	if (use_ctr && ctr_info(c, ns, id, &info, o->why, sizeof(o->why))) {
		if (!have_spec)
			return -EIO; /* neither source answered: o->why says why */
		partial = true;      /* names from the annotations, no labels nor digest */
	} else if (use_ctr) {
		int labels = json_get(&info.d, 0, "Labels");
		take_labels(c, &info.d, labels, o);
		k8s_labels(&info.d, labels, o);
		jstr(&info.d, 0, "Image", image, sizeof(image));
		if (!have_spec) { /* the bundle is written after the container record */
			int ann = json_path(&info.d, 0, "Spec.annotations");
			cri_annotations(&info.d, ann, o);
			jstr(&info.d, ann, "io.kubernetes.cri.sandbox-id", sandbox,
			     sizeof(sandbox));
		}
		jfile_free(&info);
		/* CRI's record names the image (by ref or id); without one, the annotation */
		if (image[0] && !o->image[0])
			snprintf(o->image, sizeof(o->image), "%s", image);
		if (image[0] || o->image[0])
			ctr_digest(c, ns, image[0] ? image : o->image, o);
		/* a pod's labels are those of its sandbox */
		if (sandbox[0] && strcmp(sandbox, id) &&
		    !ctr_info(c, ns, sandbox, &info, path, sizeof(path))) {
			take_labels(c, &info.d, json_get(&info.d, 0, "Labels"), o);
			jfile_free(&info);
		}
	}
	if (!o->name[0]) /* plain containerd: the container's name is its id */
		snprintf(o->name, sizeof(o->name), "%s", id);
	if (!partial)
		o->why[0] = 0;
	return 0;
}

/* The container's directory under a runtime's root, and its JSON file there (rel): -ENOENT
 * when the runtime has no such container (no root, no directory), -EAGAIN while the
 * directory is there but the file is not yet (the directory comes first), another -errno
 * when the file cannot be read; 0 with the file in *f and o->runtime set. */
static int rt_read(const char *root, const char *id, const char *runtime, const char *rel,
		   struct jfile *f, struct ctr_ident *o)
{
	char path[4096];
	if (!root[0])
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", root, id);
	if (access(path, F_OK))
		return -ENOENT;
	o->runtime = runtime;
	snprintf(path, sizeof(path), "%s/%s/%s", root, id, rel);
	int rc = jfile_read(f, path, o->why, sizeof(o->why));
	return rc == -ENOENT ? -EAGAIN : rc;
}

static int rt_docker(const struct hw_ctrmeta_config *c, const char *id, struct ctr_ident *o)
{
	struct jfile f;
	int rc = rt_read(ctr_docker_root(c), id, "docker", "config.v2.json", &f, o);
	if (rc)
		return rc;
	int cfg = json_get(&f.d, 0, "Config");
	int labels = cfg >= 0 ? json_get(&f.d, cfg, "Labels") : -1;
	char name[HW_CTR_VAL_MAX + 1] = "";
	k8s_labels(&f.d, labels, o);
	if (!o->name[0] && jstr(&f.d, 0, "Name", name, sizeof(name)))
		snprintf(o->name, sizeof(o->name), "%s", name[0] == '/' ? name + 1 : name);
	jstr(&f.d, cfg, "Image", o->image, sizeof(o->image));
	jstr(&f.d, 0, "Image", o->digest, sizeof(o->digest));
	take_labels(c, &f.d, labels, o);
	jfile_free(&f);
	return 0;
}

/* CRI-O's io.kubernetes.cri-o.Labels annotation: a JSON object inside a string */
static void crio_labels(const struct hw_ctrmeta_config *c, const struct jdoc *d, int ann,
			struct ctr_ident *o)
{
	int i = json_get(d, ann, "io.kubernetes.cri-o.Labels");
	if (i < 0 || d->t[i].type != J_STR)
		return;
	struct jfile l = {0};
	size_t cap = d->t[i].end - d->t[i].start + 1;
	l.s = malloc(cap);
	int n = l.s ? json_str(d, i, l.s, cap) : -1;
	char why[128];
	if (n >= 0) {
		l.len = (size_t)n;
		if (!jfile_parse(&l, "cri-o labels", why, sizeof(why))) {
			take_labels(c, &l.d, 0, o);
			k8s_labels(&l.d, 0, o);
		}
	}
	jfile_free(&l);
}

static int rt_crio(const struct hw_ctrmeta_config *c, const char *id, struct ctr_ident *o)
{
	const char *root = ctr_crio_root(c);
	char path[4096], sandbox[HW_CTR_VAL_MAX] = "";
	struct jfile f;
	int rc = rt_read(root, id, "cri-o", "userdata/config.json", &f, o);
	if (rc)
		return rc;
	int ann = json_get(&f.d, 0, "annotations");
	if (ann >= 0 && f.t[ann].type == J_OBJ) {
		jstr(&f.d, ann, "io.kubernetes.container.name", o->name, sizeof(o->name));
		o->pod =
			jstr(&f.d, ann, "io.kubernetes.pod.name", o->pod_name, sizeof(o->pod_name));
		jstr(&f.d, ann, "io.kubernetes.pod.namespace", o->pod_ns, sizeof(o->pod_ns));
		jstr(&f.d, ann, "io.kubernetes.pod.uid", o->pod_uid, sizeof(o->pod_uid));
		jstr(&f.d, ann, "io.kubernetes.cri-o.ImageName", o->image, sizeof(o->image));
		jstr(&f.d, ann, "io.kubernetes.cri-o.ImageRef", o->digest, sizeof(o->digest));
		jstr(&f.d, ann, "io.kubernetes.cri-o.SandboxID", sandbox, sizeof(sandbox));
		crio_labels(c, &f.d, ann, o);
	}
	jfile_free(&f);
	/* an image id without its algorithm, as CRI-O writes it */
	if (strlen(o->digest) == 64 && strspn(o->digest, "0123456789abcdef") == 64) {
		char d[HW_CTR_VAL_MAX];
		snprintf(d, sizeof(d), "sha256:%s", o->digest);
		snprintf(o->digest, sizeof(o->digest), "%s", d);
	}
	snprintf(path, sizeof(path), "%s/%s/userdata/config.json", root, sandbox);
	if (sandbox[0] && strcmp(sandbox, id) && !jfile_read(&f, path, o->why, sizeof(o->why))) {
		ann = json_get(&f.d, 0, "annotations");
		if (ann >= 0 && f.t[ann].type == J_OBJ)
			crio_labels(c, &f.d, ann, o);
		jfile_free(&f);
	}
	o->why[0] = 0;
	return 0;
}

int ctr_resolve(const struct hw_ctrmeta_config *c, const char *id, struct ctr_ident *out)
{
	memset(out, 0, sizeof(*out));
	int rc = rt_containerd(c, id, out);
	if (rc == -ENOENT) {
		memset(out, 0, sizeof(*out));
		rc = rt_docker(c, id, out);
	}
	if (rc == -ENOENT) {
		memset(out, 0, sizeof(*out));
		rc = rt_crio(c, id, out);
	}
	return rc;
}
