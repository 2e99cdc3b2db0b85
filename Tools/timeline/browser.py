"""Headless Chromium (Debian's chromium + chromium-driver) through Selenium, for the timeline
page's tests and benchmark. Nothing here knows the page; it only opens files."""
import os
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def chromium(width=1400, height=900):
    """A headless Chromium of the system, with a window of the given size."""
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--js-flags=--max-old-space-size=8192"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(600)
    driver.set_page_load_timeout(600)
    return driver


def open_page(driver, path, key=None):
    """Opens an exported page, with `#key=KEY` when a key is given."""
    url = "file://" + os.path.abspath(path) + (f"#key={key}" if key else "")
    driver.get(url)


def wait_verified(driver, timeout=600):
    """Waits until the page has finished checking (any outcome) and returns the outcome."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1], deadline = Date.now() + arguments[0] * 1000;
        (function poll() {
          const v = document.body.dataset.verify;
          if (v && v !== 'loading' && v !== 'running') return done(v);
          if (Date.now() > deadline) return done('timeout');
          setTimeout(poll, 20);
        })();
    """, timeout)
