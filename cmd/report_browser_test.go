package cmd

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// The report's browser tests open generated pages in headless Chromium and
// check the rendered DOM through the DevTools protocol: a small client over
// the page's websocket, no browser-automation dependency. They skip when no
// Chromium is installed (CI installs it: apt-get install -y chromium).

// chromiumFlags start a headless browser that makes no network connections
// of its own (the machine's network is closed: without these it retries
// Google's hosts at every start).
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-extensions", "--hide-scrollbars", "--mute-audio", "--window-size=1280,900",
	"--force-device-scale-factor=1",
}

func chromiumPath() string {
	if p := os.Getenv("SOCKSCOPE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// shotDir is where screenshots go: kept after the test so a failure can be
// looked at ($SOCKSCOPE_SCREENSHOTS, else a new temporary folder).
var shotDir = sync.OnceValues(func() (string, error) {
	if d := os.Getenv("SOCKSCOPE_SCREENSHOTS"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	return os.MkdirTemp("", "sockscope-report-screenshots-")
})

// browser is one headless Chromium with one page, driven over DevTools.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	profile string
	ws      *websocket.Conn
	mu      sync.Mutex
	nextID  int
	wait    map[int]chan cdpMessage
	events  []cdpMessage
	loaded  chan struct{}
}

type cdpMessage struct {
	ID     int             `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

var devtoolsLine = regexp.MustCompile(`DevTools listening on (ws://[^\s]+)`)

func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("headless Chromium not found (install it with: apt-get install -y chromium; or set SOCKSCOPE_CHROMIUM)")
	}
	// The profile is removed after the browser is gone (t.TempDir would race
	// with Chromium's helper processes still writing to it).
	profile, err := os.MkdirTemp("", "sockscope-chromium-profile-")
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, chromiumFlags...), "--user-data-dir="+profile,
		"--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", "about:blank")
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers too are stopped by close
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	b := &browser{t: t, cmd: cmd, profile: profile, wait: map[int]chan cdpMessage{}, loaded: make(chan struct{}, 1)}
	t.Cleanup(b.close)
	t.Logf("browser: %s %s", path, strings.Join(args, " "))

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := devtoolsLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	var browserURL string
	select {
	case browserURL = <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("chromium did not start its DevTools server within 60 s")
	}
	u, err := url.Parse(browserURL)
	if err != nil {
		t.Fatal(err)
	}
	// The page target opened with about:blank.
	var pageWS string
	deadline := time.Now().Add(30 * time.Second)
	for pageWS == "" && time.Now().Before(deadline) {
		resp, err := http.Get("http://" + u.Host + "/json/list")
		if err == nil {
			var targets []struct{ Type, WebSocketDebuggerURL string }
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" {
					pageWS = tg.WebSocketDebuggerURL
					break
				}
			}
		}
		if pageWS == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if pageWS == "" {
		t.Fatal("chromium has no page target")
	}
	b.ws, err = websocket.Dial(pageWS, "", "http://127.0.0.1")
	if err != nil {
		t.Fatalf("connect to DevTools: %v", err)
	}
	b.ws.MaxPayloadBytes = 64 << 20
	go b.readLoop()
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		b.call(m, nil, nil)
	}
	return b
}

// close ends the browser this test started (its process group, by id) and
// removes its profile.
func (b *browser) close() {
	if b.ws != nil {
		b.ws.Close()
	}
	if p := b.cmd.Process; p != nil {
		syscall.Kill(-p.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.Pid, syscall.SIGKILL)
			<-done
		}
	}
	for range 20 {
		if os.RemoveAll(b.profile) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *browser) readLoop() {
	for {
		var m cdpMessage
		if err := websocket.JSON.Receive(b.ws, &m); err != nil {
			b.mu.Lock()
			for id, ch := range b.wait {
				close(ch)
				delete(b.wait, id)
			}
			b.mu.Unlock()
			return
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch := b.wait[m.ID]; ch != nil {
				ch <- m
				delete(b.wait, m.ID)
			}
		} else {
			b.events = append(b.events, m)
			if m.Method == "Page.loadEventFired" {
				select {
				case b.loaded <- struct{}{}:
				default:
				}
			}
		}
		b.mu.Unlock()
	}
}

// call sends one DevTools command and decodes its result into out.
func (b *browser) call(method string, params any, out any) {
	b.t.Helper()
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.wait[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if err := websocket.JSON.Send(b.ws, msg); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			b.t.Fatalf("%s: connection to chromium closed", method)
		}
		if m.Error != nil {
			b.t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				b.t.Fatalf("%s: decode result: %v", method, err)
			}
		}
	case <-time.After(60 * time.Second):
		b.t.Fatalf("%s: no answer from chromium within 60 s", method)
	}
}

// open loads a file and waits for its load event.
func (b *browser) open(path string) {
	b.t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		b.t.Fatal(err)
	}
	select {
	case <-b.loaded:
	default:
	}
	b.mu.Lock()
	b.events = nil
	b.mu.Unlock()
	b.call("Page.navigate", map[string]any{"url": (&url.URL{Scheme: "file", Path: abs}).String()}, nil)
	select {
	case <-b.loaded:
	case <-time.After(60 * time.Second):
		b.t.Fatalf("%s did not load within 60 s", path)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("evaluate %q: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			b.t.Fatalf("evaluate %q: decode %s: %v", expr, r.Result.Value, err)
		}
	}
}

func (b *browser) evalInt(expr string) int {
	b.t.Helper()
	var n int
	b.eval(expr, &n)
	return n
}

// click presses and releases the mouse on the centre of the element sel
// picks, as a user would.
func (b *browser) click(sel string) {
	b.t.Helper()
	var pt struct{ X, Y float64 }
	b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"});
		const r = e.getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()`, sel), &pt)
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		b.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": pt.X, "y": pt.Y, "button": "left", "clickCount": 1}, nil)
	}
}

// key types one key (as a user would, to the focused element).
func (b *browser) key(key, code string, keyCode int) {
	b.t.Helper()
	for _, typ := range []string{"keyDown", "keyUp"} {
		p := map[string]any{"type": typ, "key": key, "code": code, "windowsVirtualKeyCode": keyCode}
		if typ == "keyDown" && len(key) == 1 {
			p["text"] = key
		}
		b.call("Input.dispatchKeyEvent", p, nil)
	}
}

// screenshot saves the page (the top 4000 pixels at most) as name.png in
// the screenshot folder and logs where.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir, err := shotDir()
	if err != nil {
		b.t.Logf("screenshot folder: %v", err)
		return
	}
	var size struct{ W, H float64 }
	b.eval(`({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})`, &size)
	var shot struct{ Data string }
	b.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": size.W, "height": min(size.H, 4000), "scale": 1}}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// problems returns the page's uncaught exceptions, console errors (a
// Content-Security-Policy violation among them) and requests for anything
// but the page itself.
func (b *browser) problems(page string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.events {
		switch e.Method {
		case "Runtime.exceptionThrown":
			out = append(out, "exception: "+string(e.Params))
		case "Log.entryAdded":
			var p struct {
				Entry struct{ Level, Text, URL string }
			}
			json.Unmarshal(e.Params, &p)
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				out = append(out, "console "+p.Entry.Level+": "+p.Entry.Text)
			}
		case "Runtime.consoleAPICalled":
			var p struct{ Type string }
			json.Unmarshal(e.Params, &p)
			if p.Type == "error" || p.Type == "warning" {
				out = append(out, "console."+p.Type+": "+string(e.Params))
			}
		case "Network.requestWillBeSent":
			var p struct{ Request struct{ URL string } }
			json.Unmarshal(e.Params, &p)
			if u := p.Request.URL; !strings.HasPrefix(u, "data:") && !strings.HasSuffix(u, filepath.Base(page)) {
				out = append(out, "request: "+u)
			}
		}
	}
	return out
}

// writeReport runs `sockscope report` and returns the page's path and size.
func makeReport(t *testing.T, dir, name, capture string, extra ...string) (string, int64) {
	t.Helper()
	out := filepath.Join(dir, name+".html")
	args := append([]string{"report", capture, "-o", out}, extra...)
	_, stderr, code := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("sockscope %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes (%s)", capture, fi.Size(), strings.TrimSpace(stderr))
	return out, fi.Size()
}

func TestReportInBrowser(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	type mapCount struct{ segs, msgs int }
	tests := []struct {
		name    string
		capture string
		args    []string
		rows    int // streams table rows
		ladders int
		packets int // arrows in all ladders
		maps    []mapCount
	}{
		{"04_http_keepalive", "04_http11_keepalive_curl.pcap", nil, 1, 1, 32,
			[]mapCount{{5, 5}, {10, 5}}},
		{"09_lines", "09_lines_odd_chunks_nodelay.pcap", nil, 1, 1, 48,
			[]mapCount{{12, 11}, {11, 11}}},
		{"10_lenprefix", "10_lenprefix_u32be_split_coalesced.pcap.gz", []string{"--framing", "len:u32be"}, 1, 1, 56,
			[]mapCount{{16, 10}, {13, 10}}},
		// 200 streams in the table; the first 100 drawn (--streams 100),
		// with no payload, so no framing maps.
		{"16_scan", "16_nmap_syn_scan_1-200.pcap", nil, 200, 100, 203, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			page, size := makeReport(t, dir, tc.name, corpus+tc.capture, tc.args...)
			if size > 1<<20 {
				t.Errorf("page is %d bytes: want < 1 MiB for a small capture", size)
			}
			b.open(page)
			b.screenshot("report_" + tc.name)
			if n := b.evalInt(`document.querySelectorAll("#streams-table tbody tr").length`); n != tc.rows {
				t.Errorf("streams table: %d rows, want %d", n, tc.rows)
			}
			if n := b.evalInt(`document.querySelectorAll("svg.ladder").length`); n != tc.ladders {
				t.Errorf("%d ladders, want %d", n, tc.ladders)
			}
			if n := b.evalInt(`document.querySelectorAll("svg.ladder g.pkt").length`); n != tc.packets {
				t.Errorf("%d ladder arrows, want %d", n, tc.packets)
			}
			var maps []mapCount
			var got [][2]int
			b.eval(`[...document.querySelectorAll("svg.fmap")].map(m => [m.querySelectorAll("rect.seg").length, m.querySelectorAll("rect.msg").length])`, &got)
			for _, g := range got {
				maps = append(maps, mapCount{g[0], g[1]})
			}
			if fmt.Sprint(maps) != fmt.Sprint(tc.maps) {
				t.Errorf("framing maps (segments, messages): %v, want %v", maps, tc.maps)
			}
			if tc.maps != nil {
				checkSegmentSelection(t, b)
			}
			checkTable(t, b, tc.rows)
			if tc.name == "09_lines" {
				checkPrint(t, b)
			}
			if p := b.problems(page); len(p) > 0 {
				t.Errorf("page problems:\n%s", strings.Join(p, "\n"))
			}
		})
	}
}

// checkSegmentSelection clicks segments and messages and checks that the
// other side of the map is highlighted exactly as the data says.
func checkSegmentSelection(t *testing.T, b *browser) {
	t.Helper()
	// For every segment of the first map: click it, and compare the
	// highlighted messages with the messages whose bytes overlap it.
	nSegs := b.evalInt(`document.querySelector("svg.fmap").querySelectorAll("rect.seg").length`)
	for i := range nSegs {
		id := ""
		b.eval(fmt.Sprintf(`document.querySelector("svg.fmap").querySelectorAll("rect.seg")[%d].id`, i), &id)
		b.click("#" + id)
		var r struct {
			Want, Got []string
			Info      string
		}
		b.eval(fmt.Sprintf(`(() => {
			const m = document.querySelector("svg.fmap"), s = document.getElementById(%q);
			const x0 = +s.getAttribute("x"), x1 = x0 + +s.getAttribute("width");
			const want = [...m.querySelectorAll("rect.msg")].filter(r => { const a = +r.getAttribute("x"), b = a + +r.getAttribute("width"); return a < x1 - 0.5 && b > x0 + 0.5; }).map(r => r.id);
			const got = [...m.querySelectorAll("rect.msg.hl")].map(r => r.id);
			if (!s.classList.contains("sel")) got.push("segment not marked selected");
			const frame = s.getAttribute("aria-label").match(/frame (\d+)/)[1];
			const xref = [...document.querySelectorAll("svg.ladder g.pkt.xref")].map(g => g.id);
			if (xref.length !== 1 || !xref[0].endsWith("-f" + frame)) got.push("ladder arrows marked: " + xref.join(",") + ", want frame " + frame);
			return {want, got, info: m.parentNode.nextElementSibling.textContent};
		})()`, id), &r)
		if fmt.Sprint(r.Got) != fmt.Sprint(r.Want) || len(r.Got) == 0 {
			t.Errorf("click %s: highlighted messages %v, want %v", id, r.Got, r.Want)
		}
		if !strings.Contains(r.Info, "frame ") || !strings.Contains(r.Info, "bytes [") {
			t.Errorf("click %s: info box %q lacks frame and byte range", id, r.Info)
		}
	}
	// And the other way: a message highlights the segments it spans.
	b.click("svg.fmap rect.msg")
	var back struct{ Hl, Sel int }
	b.eval(`(() => { const m = document.querySelector("svg.fmap"); return {hl: m.querySelectorAll("rect.seg.hl").length, sel: m.querySelectorAll("rect.msg.sel").length}; })()`, &back)
	if back.Hl == 0 || back.Sel != 1 {
		t.Errorf("click on the first message: %d segments highlighted, %d messages selected; want some, 1", back.Hl, back.Sel)
	}
	// Keyboard: the first segment is the map's tab stop; → moves on and selects.
	b.eval(`document.querySelector("svg.fmap rect.seg").focus()`, nil)
	b.key("ArrowRight", "ArrowRight", 39)
	var focused string
	b.eval(`document.activeElement.id + " " + document.activeElement.classList.contains("sel")`, &focused)
	if !strings.HasSuffix(focused, "-s2 true") {
		t.Errorf("after → from segment 1, focus is on %q, want segment 2 selected", focused)
	}
	// A ladder arrow explains itself on Enter.
	b.eval(`document.querySelector("svg.ladder g.pkt").focus()`, nil)
	b.key("ArrowDown", "ArrowDown", 40)
	b.key("Enter", "Enter", 13)
	var explain string
	b.eval(`document.querySelector(".explain-box").textContent`, &explain)
	if !strings.Contains(explain, "SYN-ACK") {
		t.Errorf("explanation of the second packet: %q, want the SYN-ACK explained", explain)
	}
}

// checkPrint prints the page to PDF, as a reader would for a handout: the
// print stylesheet applies and every explanation is expanded for it.
func checkPrint(t *testing.T, b *browser) {
	t.Helper()
	var pdf struct{ Data string }
	b.call("Page.printToPDF", map[string]any{"printBackground": true}, &pdf)
	raw, err := base64.StdEncoding.DecodeString(pdf.Data)
	if err != nil || !bytes.HasPrefix(raw, []byte("%PDF")) {
		t.Fatalf("printToPDF: %v, %q", err, raw[:min(len(raw), 8)])
	}
	if pages := bytes.Count(raw, []byte("/Type /Page\n")) + bytes.Count(raw, []byte("/Type /Page\r")) + bytes.Count(raw, []byte("/Type /Page>")) + bytes.Count(raw, []byte("/Type /Page/")); pages == 0 {
		t.Logf("PDF: %d bytes (page count not found)", len(raw))
	}
	dir, err := shotDir()
	if err == nil {
		path := filepath.Join(dir, "report_09_lines.pdf")
		if os.WriteFile(path, raw, 0o644) == nil {
			t.Logf("print: %s (%d bytes)", path, len(raw))
		}
	}
	// A picture of the print layout, for a person to look at.
	b.call("Emulation.setEmulatedMedia", map[string]any{"media": "print"}, nil)
	b.eval(`window.dispatchEvent(new Event("beforeprint"))`, nil)
	if n := b.evalInt(`document.querySelectorAll("details.explain-all:not([open])").length`); n != 0 {
		t.Errorf("%d explanation lists still closed for printing", n)
	}
	b.screenshot("report_09_lines_print")
	b.eval(`window.dispatchEvent(new Event("afterprint"))`, nil)
	b.call("Emulation.setEmulatedMedia", map[string]any{"media": ""}, nil)
	// After printing, the explanations are closed again, as the reader left them.
	if n := b.evalInt(`document.querySelectorAll("details.explain-all[open]").length`); n != 0 {
		t.Errorf("%d explanation lists left open after printing", n)
	}
	if n := b.evalInt(`document.querySelectorAll(".explain-list li").length`); n != 48 {
		t.Errorf("%d explanations listed, want one per packet (48)", n)
	}
}

// checkTable sorts and filters the streams table.
func checkTable(t *testing.T, b *browser, rows int) {
	t.Helper()
	b.click(`#streams-table thead button[data-key="pk"]`)
	b.click(`#streams-table thead button[data-key="pk"]`) // descending
	var order []int
	b.eval(`[...document.querySelectorAll("#streams-table tbody tr")].map(r => +r.dataset.pk)`, &order)
	for i := 1; i < len(order); i++ {
		if order[i] > order[i-1] {
			t.Errorf("sorted by packets, descending: row %d has %d after %d", i, order[i], order[i-1])
			break
		}
	}
	b.eval(`(() => { const f = document.getElementById("filter"); f.value = "no-such-stream"; f.dispatchEvent(new Event("input")); })()`, nil)
	if n := b.evalInt(`document.querySelectorAll("#streams-table tbody tr:not(.hidden)").length`); n != 0 {
		t.Errorf("filter no-such-stream: %d rows shown, want 0", n)
	}
	b.eval(`(() => { const f = document.getElementById("filter"); f.value = "tcp/0"; f.dispatchEvent(new Event("input")); })()`, nil)
	if n := b.evalInt(`document.querySelectorAll("#streams-table tbody tr:not(.hidden)").length`); n < 1 || n > rows {
		t.Errorf("filter tcp/0: %d rows shown", n)
	}
}

func TestReportKeyboardBetweenStreams(t *testing.T) {
	b := startBrowser(t)
	page, _ := makeReport(t, t.TempDir(), "scan", corpus+"16_nmap_syn_scan_1-200.pcap", "--streams", "5")
	b.open(page)
	var ids []string
	for range 3 {
		b.key("j", "KeyJ", 74)
		var id string
		b.eval(`document.activeElement.id`, &id)
		ids = append(ids, id)
	}
	b.key("k", "KeyK", 75)
	var id string
	b.eval(`document.activeElement.id`, &id)
	ids = append(ids, id)
	if got, want := strings.Join(ids, " "), "tcp-0 tcp-1 tcp-2 tcp-1"; got != want {
		t.Errorf("j j j k focused %q, want %q", got, want)
	}
	var outline string
	b.eval(`getComputedStyle(document.activeElement).outlineStyle`, &outline)
	if outline != "solid" {
		t.Errorf("focused stream outline %q, want a visible (solid) focus outline", outline)
	}
}

func TestReportInertPayload(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	// The file name is network-adjacent text too: it lands in the title.
	capPath := filepath.Join(dir, `evil<img src=x onerror=document.body.setAttribute("data-pwned","name")>.pcap`)
	if err := os.WriteFile(capPath, hostileCapture(), 0o644); err != nil {
		t.Fatal(err)
	}
	page, _ := makeReport(t, dir, "hostile", capPath)
	b.open(page)
	b.screenshot("report_hostile_payload")
	var r struct {
		Pwned    string
		Scripts  int
		Imgs     int
		Handlers int
		Iframes  int
		Text     bool
		Segs     int
	}
	b.eval(`({
		pwned: document.body.getAttribute("data-pwned") || document.documentElement.getAttribute("data-pwned") || "",
		scripts: document.scripts.length,
		imgs: document.images.length,
		handlers: [...document.querySelectorAll("*")].filter(e => [...e.attributes].some(a => a.name.startsWith("on"))).length,
		iframes: document.querySelectorAll("iframe, object, embed, form, base, meta[http-equiv=refresh]").length,
		text: document.body.textContent.includes("<script>document.body.setAttribute"),
		segs: document.querySelectorAll("svg.fmap rect.seg").length,
	})`, &r)
	if r.Pwned != "" {
		t.Errorf("payload ran: data-pwned=%q", r.Pwned)
	}
	if r.Scripts != 2 {
		t.Errorf("%d <script> elements, want the page's own 2 (data and code)", r.Scripts)
	}
	if r.Imgs != 0 || r.Handlers != 0 || r.Iframes != 0 {
		t.Errorf("payload became markup: %d img, %d elements with on* attributes, %d iframe/object/form/base/refresh", r.Imgs, r.Handlers, r.Iframes)
	}
	if r.Segs == 0 {
		t.Error("no framing map drawn for the hostile stream")
	}
	// Hover every segment and message: the previews must stay text too.
	var n int
	b.eval(`(() => { let n = 0; document.querySelectorAll("svg.fmap rect.item").forEach(e => { e.dispatchEvent(new MouseEvent("click", {bubbles: true})); n++; }); return n; })()`, &n)
	b.eval(`(() => { document.querySelectorAll("svg.ladder g.pkt").forEach(e => e.dispatchEvent(new MouseEvent("click", {bubbles: true}))); document.querySelectorAll("details").forEach(d => d.open = true); return 0; })()`, nil)
	b.eval(`({
		pwned: document.body.getAttribute("data-pwned") || "",
		scripts: document.scripts.length,
		imgs: document.images.length,
		handlers: [...document.querySelectorAll("*")].filter(e => [...e.attributes].some(a => a.name.startsWith("on"))).length,
		text: [...document.querySelectorAll(".info-box")].some(e => e.textContent.includes("<script>")),
	})`, &r)
	if r.Pwned != "" || r.Scripts != 2 || r.Imgs != 0 || r.Handlers != 0 {
		t.Errorf("after selecting %d items: pwned=%q scripts=%d imgs=%d handlers=%d", n, r.Pwned, r.Scripts, r.Imgs, r.Handlers)
	}
	if !r.Text {
		t.Error("the payload preview does not show the <script> text (escaped as text)")
	}
	if p := b.problems(page); len(p) > 0 {
		t.Errorf("page problems:\n%s", strings.Join(p, "\n"))
	}
}

// hostileCapture is an HTTP exchange whose request line, headers and body
// try every way into the page: script tags, event handlers, a closing
// </script> for the JSON block, a javascript: URL, and terminal escapes.
func hostileCapture() []byte {
	req := "GET /<script>document.body.setAttribute(\"data-pwned\",\"path\")</script> HTTP/1.1\r\n" +
		"Host: <img src=x onerror=\"document.body.setAttribute('data-pwned','host')\">\r\n" +
		"X-Break: </script><script>document.body.setAttribute('data-pwned','json')</script>\r\n" +
		"X-Link: <a href=\"javascript:document.body.setAttribute('data-pwned','href')\">x</a>\x1b]0;title\x07\r\n\r\n"
	body := "<svg onload=\"document.body.setAttribute('data-pwned','svg')\"></svg><script>document.body.setAttribute('data-pwned','body')</script>\u202e"
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return hostilePcap([]byte(req), []byte(resp))
}

// TestReportREADMEScreenshot makes the README's picture of a report: the
// line protocol of corpus 09 with segment 11 selected (it carries the ends
// and starts of three messages). It runs only when asked:
//
//	SOCKSCOPE_README_SHOT=$PWD/docs/report.png go test ./cmd -run TestReportREADMEScreenshot
func TestReportREADMEScreenshot(t *testing.T) {
	out := os.Getenv("SOCKSCOPE_README_SHOT")
	if out == "" {
		t.Skip("set SOCKSCOPE_README_SHOT=path.png to write the README screenshot")
	}
	b := startBrowser(t)
	page, _ := makeReport(t, t.TempDir(), "readme", corpus+"09_lines_odd_chunks_nodelay.pcap")
	b.open(page)
	b.click("#tcp-0-c2s-s11")
	var clip struct{ X, Y, W, H float64 }
	b.eval(`(() => {
		const pk = document.getElementById("tcp-0-f36").getBoundingClientRect();
		const info = document.querySelector(".fmap-wrap[data-dir=c2s] + .info-box").getBoundingClientRect();
		const top = pk.top + window.scrollY, bottom = info.bottom + window.scrollY + 8;
		return {x: 0, y: top, w: document.documentElement.clientWidth, h: bottom - top};
	})()`, &clip)
	var shot struct{ Data string }
	b.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": clip.X, "y": clip.Y, "width": clip.W, "height": clip.H, "scale": 1}}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, len(png))
}

// TestReportCorpusInBrowser opens the report of every bundled capture: the
// script runs without an error, loads nothing, and draws one arrow per
// packet record and one rectangle per segment and message in the data.
func TestReportCorpusInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a report per corpus capture in Chromium (-short skips it)")
	}
	b := startBrowser(t)
	dir := t.TempDir()
	files, err := filepath.Glob(corpus + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, f := range files {
		name := strings.SplitN(filepath.Base(f), ".", 2)[0]
		t.Run(name, func(t *testing.T) {
			b.t = t
			out := filepath.Join(dir, name+".html")
			_, stderr, code := runCLI(t, nil, "report", f, "-o", out)
			if code != 0 && !strings.Contains(stderr, "every frame before it was analyzed") {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			b.open(out)
			var r struct{ Pk, WantPk, Items, WantItems int }
			b.eval(`(() => {
				const d = JSON.parse(document.getElementById("report-data").textContent);
				let wantPk = 0, wantItems = 0;
				d.streams.forEach(s => { wantPk += s.pk.length; s.dirs.forEach(x => { wantItems += (x.segs || []).length + (x.msgs || []).length; }); });
				return {pk: document.querySelectorAll("svg.ladder g.pkt").length, wantPk,
					items: document.querySelectorAll("svg.fmap rect.item").length, wantItems};
			})()`, &r)
			if r.Pk != r.WantPk || r.Items != r.WantItems {
				t.Errorf("drew %d arrows and %d map items; the data has %d and %d", r.Pk, r.Items, r.WantPk, r.WantItems)
			}
			if p := b.problems(out); len(p) > 0 {
				t.Errorf("page problems:\n%s", strings.Join(p, "\n"))
			}
		})
	}
}

// TestReportTLSMapInBrowser: with keys, each framing map of corpus 11 and
// 12 has three rows. A TLS record highlights the segments under it and the
// messages inside it; a message inside TLS highlights the records it spans
// and the segments that carried them; ↓ goes segment → record → message.
func TestReportTLSMapInBrowser(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	for _, c := range []struct{ name, capture string }{
		{"11_tls13_curl_openssl_sni", corpus + "11_tls13_curl_openssl_sni.pcap"},
		{"12_tls12_curl_openssl_sni", corpus + "12_tls12_curl_openssl_sni.pcap"},
		// IMAP STARTTLS: the middle row is the cleartext IMAP, then records.
		{"imap_dovecot_starttls_keys", "../testdata/captures/imap_dovecot_starttls_keys.pcap"},
	} {
		name := c.name
		t.Run(name, func(t *testing.T) {
			b.t = t
			page, _ := makeReport(t, dir, name, c.capture, "--keylog", "../testdata/keys/"+name+".keys")
			b.open(page)
			b.screenshot("report_tls_" + name)
			var rows [][3]int
			b.eval(`[...document.querySelectorAll("svg.fmap")].map(m => [m.querySelectorAll("rect.seg").length, m.querySelectorAll("rect.msg.rec").length, m.querySelectorAll("rect.in").length])`, &rows)
			if len(rows) != 2 {
				t.Fatalf("%d framing maps, want 2", len(rows))
			}
			for i, r := range rows {
				if r[0] == 0 || r[1] == 0 || r[2] == 0 {
					t.Errorf("map %d: %d segments, %d records, %d messages inside; want some of each", i, r[0], r[1], r[2])
				}
			}
			// overlap lists the ids of the rects of class cls in map m whose
			// x extent overlaps that of the rect id.
			const overlap = `const overlap = (m, id, cls) => { const s = document.getElementById(id), x0 = +s.getAttribute("x"), x1 = x0 + +s.getAttribute("width");
				return [...m.querySelectorAll(cls)].filter(r => { const a = +r.getAttribute("x"), b = a + +r.getAttribute("width"); return a < x1 - 0.5 && b > x0 + 0.5; }).map(r => r.id); };
				const hl = (m, cls) => [...m.querySelectorAll(cls + ".hl")].map(r => r.id);`
			for mi := range 2 {
				// The record carrying the message inside, then that message.
				var got struct {
					Rec, Msg                   string
					RecSegs, WantSegs, RecIns  []string
					MsgRecs, WantRecs, MsgSegs []string
					RecInfo, MsgInfo, Selected string
				}
				b.eval(fmt.Sprintf(`(() => { %s
					const m = document.querySelectorAll("svg.fmap")[%d], inner = m.querySelector("rect.in");
					const rec = overlap(m, inner.id, "rect.msg.rec")[0];
					const info = () => m.parentNode.nextElementSibling.textContent;
					document.getElementById(rec).dispatchEvent(new MouseEvent("click", {bubbles: true}));
					const out = {rec, msg: inner.id, recSegs: hl(m, "rect.seg"), wantSegs: overlap(m, rec, "rect.seg"), recIns: hl(m, "rect.in"), recInfo: info()};
					inner.dispatchEvent(new MouseEvent("click", {bubbles: true}));
					out.msgRecs = hl(m, "rect.msg"); out.wantRecs = overlap(m, inner.id, "rect.msg.rec"); out.msgSegs = hl(m, "rect.seg"); out.msgInfo = info();
					out.selected = [...m.querySelectorAll(".sel")].map(r => r.id).join(",");
					return out; })()`, overlap, mi), &got)
				if len(got.RecSegs) == 0 || fmt.Sprint(got.RecSegs) != fmt.Sprint(got.WantSegs) {
					t.Errorf("map %d: record %s highlights segments %v, want %v", mi, got.Rec, got.RecSegs, got.WantSegs)
				}
				if !slices.Contains(got.RecIns, got.Msg) {
					t.Errorf("map %d: record %s highlights messages inside %v, want [%s]", mi, got.Rec, got.RecIns, got.Msg)
				}
				if !strings.Contains(got.RecInfo, "TLS record #") || !strings.Contains(got.RecInfo, "inside TLS") {
					t.Errorf("map %d: record info %q", mi, got.RecInfo)
				}
				if fmt.Sprint(got.MsgRecs) != fmt.Sprint(got.WantRecs) || fmt.Sprint(got.MsgSegs) != fmt.Sprint(got.RecSegs) {
					t.Errorf("map %d: message %s highlights records %v (want %v) and segments %v (want %v)", mi, got.Msg, got.MsgRecs, got.WantRecs, got.MsgSegs, got.RecSegs)
				}
				if !strings.Contains(got.MsgInfo, "inside TLS · ") || !strings.Contains(got.MsgInfo, " · decrypted bytes [0,") || !strings.Contains(got.MsgInfo, "in TLS record #") {
					t.Errorf("map %d: message info %q", mi, got.MsgInfo)
				}
				if got.Selected != got.Msg {
					t.Errorf("map %d: selected %q, want only %s", mi, got.Selected, got.Msg)
				}
			}
			// Keyboard: ↓ from the first segment goes to the first record (or
			// cleartext message) it carries, ↓ again to the message inside
			// that record, else the first message inside.
			var path []string
			b.eval(`document.querySelector("svg.fmap rect.seg").focus()`, nil)
			for range 2 {
				b.key("ArrowDown", "ArrowDown", 40)
				var id string
				b.eval(`document.activeElement.getAttribute("class")`, &id)
				path = append(path, id)
			}
			if len(path) != 2 || !strings.Contains(path[0], "item msg") || !strings.Contains(path[1], "in") {
				t.Errorf("↓ ↓ from the first segment focused %q, want a record (or message) then a message inside", path)
			}
			if p := b.problems(page); len(p) > 0 {
				t.Errorf("page problems:\n%s", strings.Join(p, "\n"))
			}
		})
	}
}
