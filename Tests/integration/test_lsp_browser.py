"""A person typing into a notebook on the Periscope kernel in JupyterLab (headless Chromium)
sees `periscope lsp`'s diagnostic underline the misspelt verb, through jupyterlab-lsp and
jupyter-lsp as `periscope install` registered it. Needs the lab venv (jupyterlab-lsp), selenium
and the shared browser harness `lab_browser`; skipped without them."""
import json
import time

import pytest

lab_browser = pytest.importorskip("lab_browser")
pytest.importorskip("jupyterlab_lsp")
from selenium.webdriver.common.by import By  # noqa: E402  (selenium comes with the harness)


def notebook():
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "typed", "metadata": {}, "outputs": [],
                   "source": "help"}],
        "metadata": {"kernelspec": {"display_name": "Periscope", "language": "periscope", "name": "periscope"},
                     "language_info": {"name": "periscope", "mimetype": "text/x-periscope", "file_extension": ".scope"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def test_a_misspelt_verb_is_underlined_as_the_user_types(tmp_path):
    (tmp_path / "typing.ipynb").write_text(json.dumps(notebook()))
    with open(tmp_path / "lab.log", "w") as log:
        lab = lab_browser.Lab(tmp_path, log)
        driver = lab_browser.chromium(1400, 1200)
        try:
            page = lab_browser.LabPage(driver, lab, "typing.ipynb")
            # Tabs JupyterLab may open beside the notebook (its privacy notice) take the focus away.
            for tab in driver.find_elements(By.CSS_SELECTOR, ".lm-DockPanel-tabBar .lm-TabBar-tab"):
                if "typing.ipynb" not in tab.text:
                    for close in tab.find_elements(By.CSS_SELECTOR, ".lm-TabBar-tabCloseIcon"):
                        close.click()
            page.dismiss_notifications()
            page.type_into_cell(0, 'p = prompt "x"\nlense p')

            def underlined():
                return driver.execute_script(
                    "return [...document.querySelectorAll('.jp-CodeCell .cm-lintRange-error')]"
                    ".map(e => e.textContent);")
            deadline = time.monotonic() + 90
            while not underlined() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert underlined() == ["lense"], "no diagnostic on the page; see " + str(tmp_path / "lab.log")
        finally:
            driver.quit()
            lab.close()
