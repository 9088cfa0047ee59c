// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * crl.c - certificate revocation (--crl): the list is loaded at start and again whenever the
 * file changes; connections of certificates revoked since are closed.
 */
#include "collector/collector.h"

/* ---- certificate revocation ---- */

/*
 * --crl FILE: one or more PEM CRLs signed by the fleet CA (herdwatch-ca revoke / crl). They are
 * checked for every agent's certificate at the handshake (X509_V_FLAG_CRL_CHECK: a CRL that has
 * expired refuses every agent, so a stale revocation list fails closed), and the file is read
 * again when it changes: new handshakes use the new list at once, and open connections of
 * agents it revokes are closed. A file that cannot be read or whose CRLs the CA did not sign is
 * refused with a message; at a reload the previous list stays in force.
 */
int crl_load(struct collector *c, int startup)
{
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	X509 *ca = NULL;
	FILE *f = NULL;
	const char *why = NULL;
	int rc = -1;

	if (!store || !crls) {
		why = "out of memory";
		goto done;
	}
	if (X509_STORE_load_locations(store, c->ca_path, NULL) != 1) {
		why = "cannot load the CA file";
		goto done;
	}
	f = fopen(c->ca_path, "re");
	ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	f = fopen(c->crl_path, "re");
	if (!f || !ca) {
		why = !f ? strerror(errno) : "no certificate in the CA file";
		goto done;
	}
	X509_CRL *crl;
	while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL))) {
		if (X509_CRL_verify(crl, X509_get0_pubkey(ca)) != 1) {
			X509_CRL_free(crl);
			why = "a CRL in it is not signed by the fleet CA";
			goto done;
		}
		X509_STORE_add_crl(store, crl);
		sk_X509_CRL_push(crls, crl);
	}
	ERR_clear_error(); /* the end of the file reads as an error */
	if (sk_X509_CRL_num(crls) == 0) {
		why = "no PEM CRL in it";
		goto done;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	SSL_CTX_set_cert_store(c->ctx, store); /* frees the previous store */
	store = NULL;
	c->crl_reloads++;
	/* connections of agents revoked now */
	for (struct conn *k = c->conns, *next; k; k = next) {
		next = k->next;
		if (k->dead || !k->handshaken || !k->bev)
			continue;
		SSL *ssl = bufferevent_openssl_get_ssl(k->bev);
		X509 *cert = ssl ? SSL_get_peer_certificate(ssl) : NULL;
		int revoked = 0;
		for (int i = 0; cert && i < sk_X509_CRL_num(crls) && !revoked; i++) {
			X509_REVOKED *r = NULL;
			revoked = X509_CRL_get0_by_cert(sk_X509_CRL_value(crls, i), &r, cert) == 1;
		}
		X509_free(cert);
		if (revoked) {
			fprintf(stderr,
				"herdwatch-collector: %s: certificate revoked, connection closed\n",
				k->peer);
			c->revoked_closed++;
			conn_close(k);
		}
	}
	if (!startup)
		fprintf(stderr, "herdwatch-collector: revocation list %s reloaded (%d CRL)\n",
			c->crl_path, sk_X509_CRL_num(crls));
	rc = 0;
done:
	if (why)
		fprintf(stderr, "herdwatch-collector: revocation list %s refused: %s%s\n",
			c->crl_path, why, startup ? "" : " (the previous list stays in force)");
	if (f)
		fclose(f);
	X509_free(ca);
	X509_STORE_free(store);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return rc;
}

void crl_check_file(struct collector *c)
{
	struct stat st;
	if (!c->crl_path || stat(c->crl_path, &st))
		return;
	if (st.st_mtim.tv_sec == c->crl_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == c->crl_st.st_mtim.tv_nsec && st.st_ino == c->crl_st.st_ino &&
	    st.st_size == c->crl_st.st_size)
		return;
	c->crl_st = st; /* a refused file is not read again until it changes */
	crl_load(c, 0);
}
