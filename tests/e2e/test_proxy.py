"""End-to-end: fetchers behind an HTTP proxy (a loopback forward proxy in
Python, harness.LoopbackProxy, between the fetcher and the mock or
Azurite, recording what it forwarded).

* --proxy URL: every request goes through it, the token request included.
* Without --proxy, libcurl's environment applies: http_proxy/https_proxy
  (and all_proxy) send everything through the proxy, no_proxy exempts
  hosts; through the launcher too (it passes the environment on).
* A proxy password (http://user:password@host:port) is used (the proxy
  receives Proxy-Authorization) but never logged, even at -d 2.
"""

import base64
import os
import subprocess
import unittest
import unittest.mock

from harness import (CLIENT, LoopbackProxy, PipelineTest, StorageTest, azurite,
                     fetcher_argv, iso, storage_payload, utcnow, wazuh_payload)

import datetime

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    env.update(extra)
    return env


def tearDownModule():
    StorageTest.stop_azurite()


class Proxy(PipelineTest):

    def setUp(self):
        super().setUp()
        now = utcnow().replace(microsecond=0)
        self.items = [{"id": "p-%d" % i,
                       "createdDateTime": iso(now - datetime.timedelta(minutes=30 - i))}
                      for i in range(3)]
        self.add_events("auditLogs/signIns", self.items)
        self.proxy = LoopbackProxy()

    def tearDown(self):
        self.proxy.close()
        super().tearDown()

    def run_fetcher(self, extra=(), env=None):
        p = subprocess.run(fetcher_argv("azure-graph", self.auth, self.mock.url,
                                        extra=extra),
                           capture_output=True, timeout=120,
                           env=env if env is not None else clean_env())
        self.last_stderr = p.stderr.decode(errors="replace")
        self.assertNotIn(self.secret, self.last_stderr)
        return p.returncode, [l for l in p.stdout.decode().splitlines() if l]

    def assertAllProxied(self):
        """Every request the mock served came through the proxy, the token
        request first."""
        served = [r for r in self.mock.requests()]
        targets = self.proxy.targets()
        self.assertTrue(served)
        self.assertEqual(len(targets), len(served), (targets, served))
        self.assertTrue(targets[0].startswith(self.mock.url + "/wazuh.example/oauth2/v2.0/token"),
                        targets)
        self.assertTrue(all(t.startswith(self.mock.url + "/") for t in targets))
        self.assertTrue(any("/v1.0/auditLogs/signIns" in t for t in targets))

    def test_option(self):
        rc, out = self.run_fetcher(["--proxy", self.proxy.url])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3)
        self.assertAllProxied()
        self.assertIn("every request goes through the proxy %s" % self.proxy.url,
                      self.last_stderr)

    def test_option_with_refresh(self):
        """A 401 and the token request after it: still proxied."""
        self.mock.control("fail", {"match": "/v1.0/", "status": 401})
        rc, out = self.run_fetcher(["--proxy", self.proxy.url])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3)
        self.assertAllProxied()
        self.assertEqual(sum("/oauth2/v2.0/token" in t for t in self.proxy.targets()), 2)

    def test_environment(self):
        for var in ("http_proxy", "HTTPS_PROXY", "all_proxy"):
            with self.subTest(var=var):
                self.mock.control("reset-log")
                del self.proxy.seen[:]
                env = clean_env(**{var: self.proxy.url})
                if var == "HTTPS_PROXY":  # the mock is http://
                    env["http_proxy"] = self.proxy.url
                rc, out = self.run_fetcher(env=env)
                self.assertEqual(rc, 0, self.last_stderr)
                self.assertEqual(len(out), 3)
                self.assertAllProxied()

    def test_no_proxy(self):
        rc, out = self.run_fetcher(env=clean_env(http_proxy=self.proxy.url,
                                                 no_proxy="127.0.0.1"))
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3)
        self.assertEqual(self.proxy.seen, [])
        self.assertTrue(self.mock.requests())

    def test_password_not_logged(self):
        url = "http://proxyuser:Pr0xy-pa55word@127.0.0.1:%d" % self.proxy.port
        rc, out = self.run_fetcher(["--proxy", url])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3)
        self.assertNotIn("Pr0xy-pa55word", self.last_stderr)
        self.assertIn("every request goes through the proxy "
                      "http://proxyuser:***@127.0.0.1:%d" % self.proxy.port,
                      self.last_stderr)
        want = "Basic " + base64.b64encode(b"proxyuser:Pr0xy-pa55word").decode()
        self.assertEqual({a for _, _, a in self.proxy.seen}, {want})

    def test_bad_proxy_url(self):
        rc, out = self.run_fetcher(["--proxy", "ftp://u:hidden@127.0.0.1:1"])
        self.assertEqual((rc, out), (1, []))
        self.assertIn('--proxy "ftp://u:***@127.0.0.1:1" must start with http://',
                      self.last_stderr)
        self.assertNotIn("hidden", self.last_stderr)

    def test_proxy_environment_variable(self):
        """AZURE_LOGS_PROXY (what the launcher uses for a proxy with a
        password): the fetcher's --proxy, off its command line; checked
        like --proxy, its password never logged."""
        url = "http://proxyuser:Pr0xy-pa55word@127.0.0.1:%d" % self.proxy.port
        rc, out = self.run_fetcher(["-d", "2"], env=clean_env(AZURE_LOGS_PROXY=url))
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(out), 3)
        self.assertAllProxied()
        self.assertNotIn("Pr0xy-pa55word", self.last_stderr)
        want = "Basic " + base64.b64encode(b"proxyuser:Pr0xy-pa55word").decode()
        self.assertEqual({a for _, _, a in self.proxy.seen}, {want})

        rc, out = self.run_fetcher(env=clean_env(
            AZURE_LOGS_PROXY="htp://u:S3CRET/PW@127.0.0.1:1"))
        self.assertEqual((rc, out), (1, []))
        self.assertIn('AZURE_LOGS_PROXY "htp://u:***@127.0.0.1:1" must start with http://',
                      self.last_stderr)
        self.assertNotIn("S3CRET", self.last_stderr)

    def test_password_not_in_libcurl_errors(self):
        """libcurl quotes a proxy it cannot use whole ("Unsupported proxy
        scheme for '...'"): its password is masked in every message."""
        for proxy in ("htp://user:S3CRETPW@127.0.0.1:1",
                      "http://user:S3CRETPW@[::1:1"):
            with self.subTest(proxy=proxy):
                rc, out = self.run_fetcher(
                    ["--timeout", "20s"],
                    env=clean_env(http_proxy=proxy, https_proxy=proxy))
                self.assertEqual((rc, out), (1, []))
                self.assertIn("proxy", self.last_stderr)
                self.assertNotIn("S3CRETPW", self.last_stderr)

    def test_unreachable_proxy(self):
        rc, out = self.run_fetcher(["--proxy", "http://127.0.0.1:1", "--timeout", "20s"])
        self.assertEqual((rc, out), (1, []))
        self.assertRegex(self.last_stderr, r"azure: ERROR: Error: An error occurred "
                         r"while trying to obtain the authentication token: ")
        self.assertEqual(self.mock.requests(), [])

    def test_launcher_environment(self):
        """The launcher passes https_proxy/http_proxy on to its fetchers:
        the whole pipeline delivers through the proxy."""
        with unittest.mock.patch.dict(os.environ, clean_env(http_proxy=self.proxy.url),
                                      clear=True):
            rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items))
        self.assertAllProxied()


class StorageProxy(StorageTest):

    def test_storage_option(self):
        self.start_azurite()
        c = self.container("proxied")
        self.blob.put_block_blob(c, "p.log", b"through the proxy\n")
        proxy = LoopbackProxy()
        try:
            bindir = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(
                os.path.dirname(os.path.dirname(os.path.dirname(
                    os.path.abspath(__file__)))), "bin"))
            p = subprocess.run([os.path.join(bindir, "azure-storage"), "--container", c,
                                "--auth-file", self.auth, "--blob-url", self.server.url,
                                "--proxy", proxy.url, "--since", "2000-01-01T00:00:00Z",
                                "--json", "-d", "2"],
                               capture_output=True, timeout=120, env=clean_env())
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode().splitlines(),
                         [storage_payload("through the proxy").decode()])
        self.assertNotIn(azurite.KEY, p.stderr.decode())
        t = proxy.targets()
        self.assertTrue(t and all(x.startswith(self.server.url + "/") for x in t), t)
        self.assertTrue(any("comp=list" in x for x in t))
        self.assertTrue(any(x.endswith("/p.log") for x in t))


if __name__ == "__main__":
    unittest.main()
