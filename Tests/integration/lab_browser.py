"""A JupyterLab server and a headless Chromium driven through Selenium, for tests that use
JupyterLab the way a person does (open a notebook, use the menus, read the page).

`conftest.py` turns these into the `lab` and `browser` fixtures; `LabPage` is what a test holds:

    page = LabPage(browser, lab, "tour.ipynb")
    page.run_all_from_menu()
    page.wait_until_idle()
    page.outputs()  # every output area as {"cell", "html", "mime", "svg", "tables", ...}
"""
import contextlib
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab server on a free local port, serving `root`."""

    def __init__(self, root, log):
        self.root = pathlib.Path(root)
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        settings = self.root / ".lab-state"
        settings.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(settings / "config"),
               "JUPYTER_RUNTIME_DIR": str(settings / "runtime")}
        bindir = pathlib.Path(sys.executable).parent
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        self.process = subprocess.Popen(
            [str(bindir / "jupyter"), "lab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
             f"--ServerApp.root_dir={self.root}", f"--IdentityProvider.token={self.token}",
             "--ServerApp.port_retries=0", f"--LabApp.workspaces_dir={settings / 'workspaces'}",
             f"--LabApp.user_settings_dir={settings / 'user-settings'}", "--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    break
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited with {self.process.returncode}; see {log.name}")
                if time.monotonic() > deadline:
                    raise TimeoutError("jupyter lab did not answer within 120 s")
                time.sleep(0.3)

    def notebook_url(self, name):
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def chromium(width=1400, height=2000):
    """Headless Chromium. Cells out of view stay in the page (JupyterLab hides them with CSS
    content-visibility), so outputs are read whole; a taller window fails to paint."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class LabPage:
    """One notebook open in JupyterLab."""

    def __init__(self, driver, lab, name, timeout=120):
        self.driver, self.lab, self.name = driver, lab, name
        driver.get(lab.notebook_url(name))
        self.wait(lambda: self._kernel_status() == "idle", timeout, "the kernel to be idle")
        self.dismiss_notifications()
        self.focus_notebook()

    # MARK: waiting

    def wait(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except StaleElementReferenceException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {what} in {self.name}")
            time.sleep(0.25)

    def _kernel_status(self):
        return self.driver.execute_script(
            "const e = document.querySelector('.jp-mod-current .jp-Notebook-ExecutionIndicator')"
            " || document.querySelector('.jp-Notebook-ExecutionIndicator');"
            "return e ? e.getAttribute('data-status') : null;")

    def wait_until_idle(self, timeout=900):
        """Waits until every code cell has run: none queued or running, the kernel idle."""
        def done():
            prompts = self.prompts()
            return prompts and all(p not in ("[*]:", "[ ]:", "") for p in prompts) and self._kernel_status() == "idle"
        self.wait(done, timeout, "every cell to run")

    def dismiss_notifications(self):
        for button in self.driver.find_elements(By.CSS_SELECTOR, ".jp-toast-button, .Toastify__close-button"):
            with contextlib.suppress(Exception):
                button.click()

    # MARK: acting as a person

    def focus_notebook(self):
        """Clicks the notebook's tab, as a person does before using the menus: JupyterLab enables
        the notebook's menu items only while a notebook is the current widget."""
        def click():
            tabs = [t for t in self.driver.find_elements(By.CSS_SELECTOR, ".lm-DockPanel-tabBar .lm-TabBar-tab")
                    if t.text.strip() == self.name]
            if not tabs:
                return False
            try:
                tabs[0].click()
            except WebDriverException:
                return False
            return True
        self.wait(click, 60, "the notebook to take the focus")

    def menu(self, top, command):
        """Opens a menu of the menu bar by its label and clicks the item that runs `command`."""
        selector = f'.lm-Menu-item[data-command="{command}"]:not(.lm-mod-disabled)'

        def open_item():
            bar = [e for e in self.driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text == top]
            if not bar:
                return False
            if not self.driver.find_elements(By.CSS_SELECTOR, ".lm-Menu"):
                bar[0].click()
                time.sleep(0.3)
            if self.driver.find_elements(By.CSS_SELECTOR, selector):
                return True
            # A disabled item: close the menu and try again once the notebook is current.
            self.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
            return False
        self.wait(open_item, 30, f"the {top} menu to offer {command}")
        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def run_all_from_menu(self):
        self.menu("Run", "runmenu:run-all")

    def type_into_cell(self, index, text):
        """Replaces the source of code cell `index` by typing `text` into its editor."""
        editors = self.driver.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .cm-content")
        editors[index].click()
        editors[index].send_keys(Keys.CONTROL, "a")
        editors[index].send_keys(text)

    def screenshot(self, path):
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))

    # MARK: reading the page

    def prompts(self):
        return self.driver.execute_script(
            "return [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
            ".map(e => e.textContent.trim());")

    def outputs(self):
        """Each rendered output: its cell, mime type, size of its HTML, and what it draws. Text is
        read as textContent: cells out of view are not laid out, so their innerText is empty."""
        return self.driver.execute_script("""
            const cells = [...document.querySelectorAll('.jp-CodeCell')];
            const out = [];
            cells.forEach((cell, i) => {
              const source = cell.querySelector('.cm-content');
              cell.querySelectorAll('.jp-OutputArea-output').forEach(o => {
                out.push({
                  cell: i,
                  source: source ? [...source.querySelectorAll('.cm-line')].map(l => l.textContent).join('\\n') : '',
                  mime: o.getAttribute('data-mime-type'),
                  bytes: o.innerHTML.length,
                  text: o.textContent.slice(0, 400),
                  svg: o.querySelectorAll('svg').length
                       + o.querySelectorAll('img[src^="data:image/svg"], img[src^="blob:"]').length,
                  tables: o.querySelectorAll('table').length,
                  coloured: o.querySelectorAll('td[style*="background"]').length,
                  bars: [...o.querySelectorAll('div[style*="width:220px"], div[style*="width: 220px"]')]
                        .map(b => b.parentElement.textContent.trim()),
                });
              });
            });
            return out;""")
