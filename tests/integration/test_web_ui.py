"""The web UI end to end in Debian's headless Chromium (tests/web/e2e.mjs with playwright-core) against this
real picd and its daemons: sign-in, first password change, peers and QR code, DNS with dig, backup/restore,
errors, XSS, users/app passwords/owners, the cell CA, axe on every page. Screenshots and web-metrics.json go to BUILD/web-artifacts/."""
import os
import subprocess

from pic import BUILD, SLOW, SOURCE, Netns, PicdTestCase, main, run, unique, wait_for



class WebUiTest(PicdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A LAN with one client for the DHCP page: a veth from the cell's namespace to a client namespace. Its
        # address is added by e2e.mjs only when the DHCP step starts: until then the cell's namespace has no
        # global address, so the peer step sees the API refuse a config without wireguard.endpoint.
        cls.client = Netns()
        cls.cell_if, cls.client_if = unique("wc")[:15], unique("wl")[:15]
        try:
            run("ip", "link", "add", cls.cell_if, "netns", cls.picd.netns, "type", "veth", "peer", "name",
                cls.client_if, "netns", cls.client.name)
            run("ip", "-n", cls.picd.netns, "link", "set", cls.cell_if, "up")
            run("ip", "-n", cls.client.name, "link", "set", cls.client_if, "up")
            # A second link for a VPN client in the same namespace, with its own wireguard-go: the peers page
            # must show its handshake and traffic. Addresses come in e2e.mjs's VPN step, for the same reason.
            cls.wg_cell_if, cls.wg_link_if, cls.wg_if = unique("wv")[:15], unique("wk")[:15], unique("wg")[:15]
            run("ip", "link", "add", cls.wg_cell_if, "netns", cls.picd.netns, "type", "veth", "peer", "name",
                cls.wg_link_if, "netns", cls.client.name)
            run("ip", "-n", cls.picd.netns, "link", "set", cls.wg_cell_if, "up")
            run("ip", "-n", cls.client.name, "link", "set", cls.wg_link_if, "up")
            cls.wg = subprocess.Popen(["ip", "netns", "exec", cls.client.name, "wireguard-go", "-f", cls.wg_if],
                                      env={**os.environ, "WG_PROCESS_FOREGROUND": "1"},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: os.path.exists(f"/run/wireguard/{cls.wg_if}.sock"), 10, what="client wireguard-go")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            wg = getattr(cls, "wg", None)
            if wg:
                wg.terminate()
                try:
                    wg.wait(10)
                except subprocess.TimeoutExpired:
                    wg.kill()
                    wg.wait(5)
            cls.client.delete()
        finally:
            super().tearDownClass()

    def test_browser_end_to_end(self):
        for tool in ("/usr/bin/chromium", "/usr/bin/zbarimg", "/usr/bin/node"):
            self.assertTrue(os.access(tool, os.X_OK), f"{tool} is missing: run scripts/install-deps.sh")
        art = os.path.join(os.path.abspath(BUILD), "web-artifacts")
        env = dict(os.environ, PIC_SOURCE_DIR=os.path.abspath(SOURCE), PIC_URL=f"http://{self.picd.host}:{self.picd.port}",
                   PIC_TOKEN=self.picd.token, PIC_NETNS=self.picd.netns, PIC_ARTIFACTS=art,
                   PIC_PASSWORD=self.picd.admin_password(), PIC_DHCP_IF=self.cell_if, PIC_CLIENT_NS=self.client.name,
                   PIC_CLIENT_IF=self.client_if, PIC_WG_CELL_IF=self.wg_cell_if, PIC_WG_LINK_IF=self.wg_link_if,
                   PIC_WG_IF=self.wg_if, PIC_STATE_DIR=self.picd.state_dir)
        p = subprocess.run(["node", os.path.join(SOURCE, "tests", "web", "e2e.mjs")], env=env, capture_output=True,
                           text=True, timeout=600 * SLOW)
        print(p.stdout)
        print(p.stderr)
        self.assertEqual(p.returncode, 0, "browser steps failed (see above); screenshots in " + art)


if __name__ == "__main__":
    main()
