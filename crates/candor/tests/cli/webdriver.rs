//! A minimal W3C WebDriver client for the browser test: Debian's
//! `chromedriver` driving headless `chromium`, over plain HTTP on loopback.
//! Only what the test needs: sessions, navigation, elements, typing,
//! clicking, scripts run in the page, the viewport's size, screenshots.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver with one headless chromium session.
pub(crate) struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
}

/// Finds the binaries or says how to install them.
fn binary(name: &str, candidates: &[&str]) -> String {
    for c in candidates {
        if Path::new(c).exists() {
            return (*c).to_owned();
        }
    }
    panic!(
        "{name} is not installed; the browser test needs Debian's chromium and chromium-driver \
         (`apt-get install -y chromium chromium-driver`; .ci/run installs them)"
    );
}

impl Browser {
    /// Starts chromedriver on `port` and opens a headless session.
    pub(crate) fn start(port: u16) -> Browser {
        let driver_bin = binary("chromedriver", &["/usr/bin/chromedriver"]);
        let chromium = binary("chromium", &["/usr/bin/chromium"]);
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // --no-sandbox: CI runs as root, where chromium's sandbox
                // cannot start.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1100",
                         "--no-first-run", "--disable-extensions"],
            },
        }}});
        let session = browser.call("POST", "/session", Some(caps));
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|(err, message)| panic!("webdriver {method} {path}: {err}: {message}"))
    }

    /// A command's value, or the WebDriver error code and message.
    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (String, String)> {
        let url = format!("{}{path}", self.base);
        let resp = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string().as_bytes()),
        }
        .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let text = resp.into_body().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if let Some(err) = v["value"]["error"].as_str() {
            return Err((err.to_owned(), v["value"]["message"].to_string()));
        }
        Ok(v.get("value")
            .cloned()
            .map_or(v, |inner| if inner.is_null() { json!({}) } else { inner }))
    }

    /// Opens a URL and waits for the page to load.
    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// The current URL.
    pub(crate) fn url(&self) -> String {
        self.call("GET", "/url", None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// The element matching a CSS selector.
    pub(crate) fn find(&self, css: &str) -> String {
        let e = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        e[ELEMENT].as_str().unwrap_or("").to_owned()
    }

    /// How many elements match a CSS selector.
    pub(crate) fn count(&self, css: &str) -> usize {
        self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Types into an element.
    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/clear"), None);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Clicks an element (a submit button waits for the next page).
    pub(crate) fn click(&self, css: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/click"), None);
    }

    /// Clicks a submit button and waits until the next page replaced this
    /// one (the old page's root element goes stale), at most 20 s.
    pub(crate) fn submit(&self, css: &str) {
        let root = self.find("html");
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.try_call("GET", &format!("/element/{root}/name"), None) {
                Err((err, _)) if err == "stale element reference" => return,
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "no new page after clicking {css}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Chooses an option of a `<select>` by its value.
    pub(crate) fn select(&self, select_css: &str, value: &str) {
        self.click(&format!("{select_css} option[value=\"{value}\"]"));
    }

    /// The visible text of an element.
    pub(crate) fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.call("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// An attribute of an element.
    pub(crate) fn attributes(&self, css: &str, name: &str) -> Vec<String> {
        let ids: Vec<String> = self
            .call(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ids.iter()
            .map(|id| {
                self.call("GET", &format!("/element/{id}/attribute/{name}"), None)
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page
    /// and returns its result. ChromeDriver runs it through the DevTools
    /// protocol, outside the page's Content-Security-Policy, which forbids
    /// the page's own scripts.
    pub(crate) fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs `script`, which calls its last argument with the result when
    /// done (for promises such as axe-core's).
    pub(crate) fn execute_async(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/timeouts", Some(json!({"script": 120_000})));
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Lays the page out as on a screen `width` px wide and `height` px
    /// tall (DevTools device emulation: a window cannot be made as narrow
    /// as a phone), without reloading it.
    pub(crate) fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
                }}),
            ),
        );
    }

    /// Saves a PNG screenshot of the viewport.
    pub(crate) fn screenshot(&self, path: &Path) {
        let b64 = self.call("GET", "/screenshot", None);
        let bytes = decode_base64(b64.as_str().unwrap_or(""));
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, bytes).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (the screenshot encoding).
fn decode_base64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("a base64 screenshot")
}
