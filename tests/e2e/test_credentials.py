"""End-to-end: every kind of credential against the mock (and Azurite),
and the national clouds.

* Certificate credentials: the auth file holds application_id, a PEM
  private key and a PEM certificate; the fetcher signs a JWT client
  assertion (RS256, x5t) that the mock verifies against the certificate's
  public key (modulus and exponent from the openssl CLI), thumbprint and
  claims. Keys are made at test time in a temporary directory.
* Managed identity: managed_identity = yes (application_id: a
  user-assigned identity), tokens from the mock's instance metadata
  endpoint through --identity-url.
* SAS for storage, against Azurite.
* --cloud: which hosts a fetcher contacts, seen by a loopback proxy that
  records CONNECT targets and refuses them.
"""

import datetime
import os
import socket
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import (CLIENT, TENANT, LoopbackProxy, PipelineTest, StorageTest,
                     azurite, fetcher_argv, gen_graph, iso, make_certificate,
                     storage_payload, utcnow, wazuh_payload,
                     write_file_private)

CERT_CLIENT = "c1c1c1c1-0000-4000-8000-000000000001"
USER_IDENTITY = "d2d2d2d2-0000-4000-8000-000000000002"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
TOKEN_PREFIX = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."  # every mock token's


def clean_env(**extra):
    """The environment without any proxy setting, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in PROXY_VARS}
    env.update(extra)
    return env


def key_body(pem):
    """The base64 lines of a PEM block (what must never be logged)."""
    return [l for l in pem.splitlines() if l and not l.startswith("-----")]


class Keys:
    """Keys and certificates made once per module (openssl CLI)."""
    dir = None

    @classmethod
    def make(cls):
        if cls.dir is None:
            cls.dir = tempfile.mkdtemp(prefix="azure-keys-")
            cls.a = make_certificate(cls.dir, "a")
            cls.b = make_certificate(cls.dir, "b")
            cls.ec = make_certificate(cls.dir, "ec", "ec")

    @classmethod
    def remove(cls):
        if cls.dir is not None:
            shutil.rmtree(cls.dir, ignore_errors=True)
            cls.dir = None


def setUpModule():
    Keys.make()


def tearDownModule():
    Keys.remove()
    StorageTest.stop_azurite()


class CredentialTest(PipelineTest):
    """The mock knows CERT_CLIENT by certificate A, a system-assigned
    identity and the user-assigned USER_IDENTITY."""

    def setUp(self):
        super().setUp()
        self.mock.control("config", {
            "tenants": {TENANT: {"clients": {CERT_CLIENT: Keys.a[2]}}},
            "identities": {"system": True, "user": [USER_IDENTITY]}})
        now = utcnow().replace(microsecond=0)
        self.items = [{"id": "evt-%d" % i,
                       "createdDateTime": iso(now - datetime.timedelta(minutes=30 - i))}
                      for i in range(3)]
        self.add_events("auditLogs/signIns", self.items)

    def cert_auth(self, name, key_pem, cert_pem, app_id=CERT_CLIENT):
        return write_file_private(os.path.join(self.home, name),
                                  "application_id = %s\n%s%s"
                                  % (app_id, key_pem, cert_pem))

    def run_fetcher(self, prog, auth, extra=(), env=None, query=None):
        p = subprocess.run(fetcher_argv(prog, auth, self.mock.url, query=query,
                                        extra=extra),
                           capture_output=True, timeout=120,
                           env=env or clean_env())
        self.last_stderr = p.stderr.decode(errors="replace")
        self.assertNotIn(TOKEN_PREFIX, self.last_stderr)
        for pem in (Keys.a[0], Keys.b[0], Keys.ec[0]):
            for line in key_body(pem):
                self.assertNotIn(line, self.last_stderr)
        return p.returncode, [l for l in p.stdout.decode().splitlines() if l]

    def token_requests(self):
        return [r for r in self.mock.requests()
                if r["path"].endswith("/oauth2/v2.0/token")]


class Certificate(CredentialTest):

    def test_events_delivered(self):
        """Through the launcher and every role: the certificate's token
        is granted and the events reach Wazuh."""
        auth = self.cert_auth("cert", Keys.a[0], Keys.a[1])
        rc, got = self.run_launcher(auth=auth)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items))
        for line in key_body(Keys.a[0]):
            self.assertNotIn(line, self.last_stderr)
        a = self.mock.control("assertions")
        self.assertEqual(len(a), 1)
        self.assertEqual(a[0]["header"], {"alg": "RS256", "typ": "JWT",
                                          "x5t": Keys.a[2]["certificate"]["x5t"]})
        c = a[0]["claims"]
        self.assertEqual(c["aud"], self.mock.url + "/" + TENANT + "/oauth2/v2.0/token")
        self.assertEqual((c["iss"], c["sub"]), (CERT_CLIENT, CERT_CLIENT))
        self.assertEqual((c["exp"] - c["nbf"], c["iat"]), (600, c["nbf"]))
        self.assertRegex(c["jti"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                         r"[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        toks = self.mock.control("tokens")
        self.assertEqual([(t["client_id"], t["scope"]) for t in toks],
                         [(CERT_CLIENT, "https://graph.microsoft.com/.default")])

    def test_new_assertion_per_token_request(self):
        """A 401 gets a new token: with a new assertion (the mock refuses
        a jti used before), and a 503 of the token endpoint is retried
        with a new one too."""
        self.mock.control("fail", {"match": "/oauth2/v2.0/token", "status": 503,
                                   "retry_after": "0"})
        self.mock.control("fail", {"match": "/v1.0/", "status": 401})
        rc, out = self.run_fetcher("azure-graph",
                                   self.cert_auth("cert", Keys.a[0], Keys.a[1]))
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3, self.last_stderr)
        a = self.mock.control("assertions")
        self.assertEqual(len(a), 2)
        self.assertNotEqual(a[0]["claims"]["jti"], a[1]["claims"]["jti"])
        self.assertEqual(len(self.token_requests()), 3)

    def test_log_analytics(self):
        self.mock.control("la-rows", {
            "workspace": "ws1", "table": "T",
            "columns": [{"name": "TimeGenerated", "type": "datetime"},
                        {"name": "Msg", "type": "string"}],
            "rows": [[iso(utcnow() - datetime.timedelta(minutes=20)),
                      "la via cert"]]})
        rc, out = self.run_fetcher("azure-la",
                                   self.cert_auth("cert", Keys.a[0], Keys.a[1]),
                                   extra=["--workspace", "ws1"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 1)
        self.assertIn("la via cert", out[0])
        self.assertEqual([t["scope"] for t in self.mock.control("tokens")],
                         ["https://api.loganalytics.io/.default"])

    def test_unknown_certificate(self):
        """A good pair the application does not know: Azure's answer."""
        rc, out = self.run_fetcher("azure-graph",
                                   self.cert_auth("cert", Keys.b[0], Keys.b[1]))
        self.assertEqual((rc, out), (1, []))
        self.assertRegex(self.last_stderr,
                         r"azure: ERROR: Error: The certificate credential was "
                         r"refused: AADSTS700027: Client assertion failed "
                         r"signature validation\. \[Reason - The key was not "
                         r"found\., Thumbprint of key used by client: '%s'\]"
                         % re.escape(Keys.b[2]["certificate"]["x5t"]))

    def test_bad_signature(self):
        """The mock knows certificate A's thumbprint with B's public key:
        A's signature does not verify."""
        wrong = {"certificate": dict(Keys.b[2]["certificate"],
                                     x5t=Keys.a[2]["certificate"]["x5t"])}
        self.mock.control("config", {"tenants": {TENANT: {"clients": {CERT_CLIENT: wrong}}}})
        rc, out = self.run_fetcher("azure-graph",
                                   self.cert_auth("cert", Keys.a[0], Keys.a[1]))
        self.assertEqual((rc, out), (1, []))
        self.assertRegex(self.last_stderr,
                         r"azure: ERROR: Error: The certificate credential was "
                         r"refused: AADSTS700027: Client assertion failed "
                         r"signature validation\.\n")
        self.assertEqual(self.mock.control("assertions"), [])

    def test_wrong_client_id(self):
        """iss = sub = the application id of the file: another known app
        with the same certificate is not this one."""
        self.mock.control("config", {"tenants": {TENANT: {"clients": {CLIENT: Keys.a[2]}}}})
        rc, _ = self.run_fetcher("azure-graph", self.cert_auth(
            "cert", Keys.a[0], Keys.a[1], app_id=CLIENT))
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(self.mock.control("assertions")[0]["claims"]["iss"], CLIENT)

    def assertFileError(self, text, pattern):
        auth = write_file_private(os.path.join(self.home, "bad"), text)
        rc, out = self.run_fetcher("azure-graph", auth)
        self.assertEqual((rc, out), (1, []))
        self.assertRegex(self.last_stderr, r"azure: ERROR: Error: " + pattern)
        self.assertEqual(self.token_requests(), [])

    def test_key_and_certificate_do_not_match(self):
        self.assertFileError("application_id = %s\n%s%s" % (CERT_CLIENT, Keys.b[0], Keys.a[1]),
                             r"The private key and the certificate of the "
                             r"authentication file do not match")

    def test_ec_key_refused(self):
        self.assertFileError("application_id = %s\n%s%s" % (CERT_CLIENT, Keys.ec[0], Keys.ec[1]),
                             r"The private key of the authentication file is a "
                             r"EC key: only RSA keys are supported \(RS256\)\.")

    def test_no_certificate(self):
        self.assertFileError("application_id = %s\n%s" % (CERT_CLIENT, Keys.a[0]),
                             r"The authentication file holds a private key but "
                             r"no certificate")

    def test_no_key(self):
        self.assertFileError("application_id = %s\n%s" % (CERT_CLIENT, Keys.a[1]),
                             r"The authentication file holds a certificate but "
                             r"no private key")

    def test_unreadable_key(self):
        lines = Keys.a[0].splitlines()
        lines[3] = lines[3][:10] + "!!" + lines[3][12:]
        self.assertFileError("application_id = %s\n%s\n%s" % (CERT_CLIENT, "\n".join(lines), Keys.a[1]),
                             r"The private key of the authentication file "
                             r"cannot be read \(")

    def test_unterminated_block(self):
        self.assertFileError("application_id = %s\n%s" % (CERT_CLIENT, Keys.a[0].split("-----END")[0]),
                             r"The authentication file has a \"-----BEGIN "
                             r"PRIVATE KEY-----\" line and no END line\.")

    def test_secret_and_certificate(self):
        self.assertFileError("application_id = %s\napplication_key = x\n%s%s"
                             % (CERT_CLIENT, Keys.a[0], Keys.a[1]),
                             r"The authentication file holds both an "
                             r"application_key and a private key")

    def test_check(self):
        rc, out = self.run_fetcher("azure-graph",
                                   self.cert_auth("cert", Keys.a[0], Keys.a[1]),
                                   extra=["--check"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertRegex("\n".join(out), r"ok: Graph: the authentication file .* "
                         r"holds a certificate; a token for wazuh.example was "
                         r"granted by ")


class ManagedIdentity(CredentialTest):

    def identity_auth(self, client_id=None):
        text = "managed_identity = yes\n"
        if client_id:
            text += "application_id = %s\n" % client_id
        return write_file_private(os.path.join(self.home, "mi"), text)

    def imds(self):
        return self.mock.url + "/metadata/identity/oauth2/token"

    def imds_requests(self):
        return [r for r in self.mock.requests()
                if r["path"] == "/metadata/identity/oauth2/token"]

    def test_system_assigned(self):
        rc, out = self.run_fetcher("azure-graph", self.identity_auth(),
                                   extra=["--identity-url", self.imds()])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3)
        q = urllib.parse.parse_qs(self.imds_requests()[0]["query"])
        self.assertEqual(q, {"api-version": ["2018-02-01"],
                             "resource": ["https://graph.microsoft.com/"]})
        self.assertEqual(self.token_requests(), [])
        self.assertEqual([(t["tenant"], t["client_id"]) for t in self.mock.control("tokens")],
                         [("imds", "system")])

    def test_user_assigned_log_analytics(self):
        self.mock.control("la-rows", {
            "workspace": "ws1", "table": "T",
            "columns": [{"name": "TimeGenerated", "type": "datetime"},
                        {"name": "Msg", "type": "string"}],
            "rows": [[iso(utcnow() - datetime.timedelta(minutes=20)),
                      "la via identity"]]})
        rc, out = self.run_fetcher("azure-la", self.identity_auth(USER_IDENTITY),
                                   extra=["--workspace", "ws1",
                                          "--identity-url", self.imds()])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 1)
        q = urllib.parse.parse_qs(self.imds_requests()[0]["query"])
        self.assertEqual(q["resource"], ["https://api.loganalytics.io/"])
        self.assertEqual(q["client_id"], [USER_IDENTITY])

    def test_identity_not_found(self):
        rc, out = self.run_fetcher("azure-graph", self.identity_auth("no-such-identity"),
                                   extra=["--identity-url", self.imds()])
        self.assertEqual((rc, out), (1, []))
        self.assertIn("azure: ERROR: Error: The managed identity was not found "
                      "(HTTP 400: Identity not found)", self.last_stderr)

    def test_no_endpoint(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        rc, out = self.run_fetcher("azure-graph", self.identity_auth(), extra=[
            "--identity-url", "http://127.0.0.1:%d/metadata/identity/oauth2/token" % port])
        self.assertEqual((rc, out), (1, []))
        self.assertIn("azure: ERROR: Error: no managed identity endpoint: is "
                      "this an Azure VM with an identity?", self.last_stderr)

    def test_identity_and_secret(self):
        auth = write_file_private(os.path.join(self.home, "mi"),
                                  "managed_identity = yes\napplication_id = %s\n"
                                  "application_key = %s\n" % (CLIENT, self.secret))
        rc, out = self.run_fetcher("azure-graph", auth,
                                   extra=["--identity-url", self.imds()])
        self.assertEqual((rc, out), (1, []))
        self.assertIn("managed_identity = yes and also holds an "
                      "application_key", self.last_stderr)

    def test_not_proxied(self):
        """--proxy carries the Graph requests, never the IMDS one."""
        proxy = LoopbackProxy()
        try:
            rc, out = self.run_fetcher("azure-graph", self.identity_auth(),
                                       extra=["--identity-url", self.imds(),
                                              "--proxy", proxy.url])
        finally:
            proxy.close()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3)
        self.assertEqual(len(self.imds_requests()), 1)
        t = proxy.targets()
        self.assertTrue(t and all("/v1.0/" in x for x in t), t)

    def test_not_proxied_by_environment(self):
        """Nor through http_proxy from the environment."""
        proxy = LoopbackProxy()
        try:
            rc, out = self.run_fetcher("azure-graph", self.identity_auth(),
                                       extra=["--identity-url", self.imds()],
                                       env=clean_env(http_proxy=proxy.url))
        finally:
            proxy.close()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3)
        self.assertEqual(len(self.imds_requests()), 1)
        t = proxy.targets()
        self.assertTrue(t and all("/v1.0/" in x for x in t), t)


class Clouds(CredentialTest):
    """--cloud picks the endpoints: the loopback proxy sees (and refuses)
    the CONNECT to each cloud's hosts."""

    def connects(self, prog, auth, extra):
        proxy = LoopbackProxy()
        try:
            argv = [a for a in fetcher_argv(prog, auth, self.mock.url, extra=extra)]
            # no --login-url / --*-url: the cloud's defaults
            for opt in ("--login-url", "--graph-url", "--la-url"):
                if opt in argv:
                    i = argv.index(opt)
                    del argv[i:i + 2]
            # --timeout: no need to wait for every retry of a refused
            # CONNECT (the first attempt is all this test looks at)
            p = subprocess.run(argv + ["--proxy", proxy.url, "--timeout", "3s"],
                               capture_output=True,
                               timeout=120, env=clean_env())
            self.last_stderr = p.stderr.decode(errors="replace")
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 1, self.last_stderr)
        return sorted({(m, t) for m, t, _ in proxy.seen})

    def test_usgov_login(self):
        auth = self.write_auth("s", CLIENT, self.secret)
        self.assertEqual(self.connects("azure-graph", auth, ["--cloud", "usgov"]),
                         [("CONNECT", "login.microsoftonline.us:443")])

    def test_usgov_graph(self):
        """A managed identity (IMDS: not proxied) for graph.microsoft.us."""
        auth = write_file_private(os.path.join(self.home, "mi"), "managed_identity = yes\n")
        imds = self.mock.url + "/metadata/identity/oauth2/token"
        self.assertEqual(self.connects("azure-graph", auth,
                                       ["--cloud", "usgov", "--identity-url", imds]),
                         [("CONNECT", "graph.microsoft.us:443")])
        q = urllib.parse.parse_qs([r for r in self.mock.requests()
                                   if r["path"].startswith("/metadata/")][0]["query"])
        self.assertEqual(q["resource"], ["https://graph.microsoft.us/"])

    def test_dod_and_china(self):
        auth = write_file_private(os.path.join(self.home, "mi"), "managed_identity = yes\n")
        imds = self.mock.url + "/metadata/identity/oauth2/token"
        self.assertEqual(self.connects("azure-graph", auth,
                                       ["--cloud", "usgov-dod", "--identity-url", imds]),
                         [("CONNECT", "dod-graph.microsoft.us:443")])
        self.assertEqual(self.connects("azure-la", auth,
                                       ["--cloud", "china", "--identity-url", imds,
                                        "--workspace", "w"]),
                         [("CONNECT", "api.loganalytics.azure.cn:443")])
        auth = self.write_auth("s", CLIENT, self.secret)
        self.assertEqual(self.connects("azure-la", auth, ["--cloud", "china",
                                                          "--workspace", "w"]),
                         [("CONNECT", "login.chinacloudapi.cn:443")])

    def test_storage_china(self):
        auth = write_file_private(os.path.join(self.home, "st"),
                                  "account_name = acct\naccount_key = %s\n" % azurite.KEY)
        proxy = LoopbackProxy()
        try:
            bindir = os.environ.get("AZURE_LOGS_BINDIR",
                                    os.path.join(os.path.dirname(os.path.dirname(
                                        os.path.dirname(os.path.abspath(__file__)))), "bin"))
            p = subprocess.run([os.path.join(bindir, "azure-storage"), "--container", "c",
                                "--auth-file", auth, "--cloud", "china", "--proxy", proxy.url,
                                "--since", "2000-01-01T00:00:00Z", "--json",
                                "--timeout", "3s"],
                               capture_output=True, timeout=120, env=clean_env())
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(sorted({(m, t) for m, t, _ in proxy.seen}),
                         [("CONNECT", "acct.blob.core.chinacloudapi.cn:443")])

    def test_explicit_urls_win(self):
        """--login-url and --graph-url (the mock) win over the cloud's; the
        token's audience stays the cloud's, which the (public) mock Graph
        refuses, as Microsoft Graph would."""
        rc, out = self.run_fetcher("azure-graph", self.write_auth("s", CLIENT, self.secret),
                                   extra=["--cloud", "usgov"])
        self.assertEqual((rc, out), (1, []))
        scopes = {t["scope"] for t in self.mock.control("tokens")}
        self.assertEqual(scopes, {"https://graph.microsoft.us/.default"})
        self.assertIn("Invalid audience", self.last_stderr)

    def test_unknown_cloud(self):
        p = subprocess.run(fetcher_argv("azure-graph", self.auth, self.mock.url,
                                        extra=["--cloud", "germany"]),
                           capture_output=True, env=clean_env())
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"--cloud germany: unknown cloud (public, usgov, usgov-dod, "
                      b"china)", p.stderr)


class Sas(StorageTest):
    """sas_token: listing and reading work with the query string alone; a
    bad one gets Azure's 403; its sig never reaches the log."""

    def test_sas_with_question_mark(self):
        c = self.container("qsas")
        self.blob.put_block_blob(c, "s.log", b"q sas\n")
        auth = self.write_storage_auth("qsas", sas="?" + azurite.container_sas(c))
        rc, got = self.run_storage(c, auth=auth)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(self.payloads(got), [storage_payload("q sas")])

    def test_all_containers_account_sas(self):
        c = self.container("asas")
        self.blob.put_block_blob(c, "s.log", b"every container\n")
        auth = self.write_storage_auth("asas", sas=azurite.account_sas())
        rc, got = self.run_storage("*", auth=auth)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertIn(storage_payload("every container"), self.payloads(got))

    def test_bad_signature(self):
        c = self.container("badsas")
        self.blob.put_block_blob(c, "s.log", b"never\n")
        sas = azurite.account_sas()
        q = urllib.parse.parse_qs(sas)
        sig = q["sig"][0]
        # another first character (a signature starting with "A" once
        # made this "bad" one the good one: 1 run in 64)
        first = "B" if sig[0] == "A" else "A"
        bad = sas.replace(urllib.parse.quote(sig, safe=""), first + urllib.parse.quote(sig[1:], safe=""))
        if bad == sas:
            bad = sas.replace(sig, first + sig[1:])
        self.assertNotEqual(bad, sas)
        rc, got = self.run_storage(c, auth=self.write_storage_auth("badsas", sas=bad))
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(got, [])
        self.assertRegex(self.last_stderr,
                         r"azure: ERROR: Storage: Invalid credentials for accessing "
                         r"the \"%s\" container \(HTTP 403 Authori[sz]ation\w*\)\."
                         % re.escape(c))
        self.assertNotIn("sig=", self.last_stderr)


if __name__ == "__main__":
    unittest.main()
