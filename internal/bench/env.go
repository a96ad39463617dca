package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

const (
	botToken = "xoxb-bench-bot-token"
	appToken = "xapp-1-bench-app-token"
	apiKey   = "AIza-bench-key"
)

// Latency is what the emulators add, standing in for the network and the
// model: everything the bot can't make faster.
type Latency struct {
	SlackRTT     time.Duration `json:"slack_rtt_ns"`
	Bandwidth    int           `json:"download_bytes_per_s"` // 0: unlimited
	TTFT         time.Duration `json:"gemini_ttft_ns"`
	TokensPerSec int           `json:"gemini_tokens_per_s"` // 0: the whole answer at once
}

// env is one bot process against fresh emulators.
type env struct {
	slack   *slackemu.Server
	gemini  *geminiemu.Server
	cmd     *exec.Cmd
	metrics string // host:port of the bot's metrics listener
	track   *tracker
	file    map[string]any // the photo every request is about
	thumb   int            // bytes of the image the bot is expected to download
	stderr  *tailBuffer
}

// startEnv starts the emulators with lat, registers the photo, and starts
// the bot binary configured through its environment only.
func startEnv(binary string, lat Latency, photo photoSet, passThrough bool, extraEnv map[string]string) (*env, error) {
	e := newEnv(lat, photo, passThrough)
	port, err := freePort()
	if err != nil {
		e.close()
		return nil, err
	}
	e.metrics = "127.0.0.1:" + strconv.Itoa(port)
	vars := botVars(e.slack, e.gemini)
	vars["METRICS_ADDR"] = e.metrics
	if passThrough {
		vars["STREAM_MODE"] = "off"
	}
	for k, v := range extraEnv {
		vars[k] = v
	}
	if e.cmd, err = startBot(binary, vars, e.stderr); err != nil {
		e.close()
		return nil, err
	}
	if err := e.slack.WaitConnected(30 * time.Second); err != nil {
		e.close()
		return nil, fmt.Errorf("the bot did not connect: %w\n%s", err, e.stderr)
	}
	return e, nil
}

// newEnv starts the emulators with lat and registers the photo, with no
// bot yet.
func newEnv(lat Latency, photo photoSet, passThrough bool) *env {
	e := &env{slack: slackemu.New(), gemini: newGemini(lat), stderr: &tailBuffer{}}
	e.slack.SetBotToken(botToken)
	e.slack.SetAppToken(appToken)
	e.slack.SetLatency(lat.SlackRTT)
	// Longer than the emulator's default: on a starved machine the bot may
	// not read for seconds, and a run should report that, not die of it.
	e.slack.SetWriteTimeout(30 * time.Second)
	e.slack.SetBandwidth(lat.Bandwidth)
	e.track = newTracker(e.slack)
	e.slack.OnCall(e.track.onCall)

	spec := slackemu.FileSpec{
		Name: "IMG_2040.jpg", Data: photo.original, OriginalW: 4032, OriginalH: 3024,
		Mimetype: "image/jpeg", Filetype: "jpg",
	}
	e.thumb = len(photo.thumb720)
	if passThrough {
		// Other Slack bots fetch the original and send it unchanged.
		e.thumb = len(photo.original)
	} else {
		spec.Thumbs = map[int][]byte{1024: photo.thumb1024, 720: photo.thumb720}
	}
	e.file = e.slack.AddFile(spec)
	return e
}

// newGemini is a Gemini emulator answering at lat's pace.
func newGemini(lat Latency) *geminiemu.Server {
	g := geminiemu.New()
	g.SetAPIKey(apiKey)
	g.DropBodies(true)
	// The load runs measure the bot, not the emulator's reading of 170 KB
	// requests: only the tokens stage has them read.
	g.ReadRequests(false)
	g.SetDefault(answerReply(lat))
	return g
}

// botVars is the environment of a bot against these emulators.
func botVars(s *slackemu.Server, g *geminiemu.Server) map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN": botToken, "SLACK_APP_TOKEN": appToken, "GEMINI_API_KEY": apiKey,
		"SLACK_API_URL": s.APIURL(), "GOOGLE_GEMINI_BASE_URL": g.URL(),
		"LOG_LEVEL": "warn", "WORKERS": "128", "QUEUE_SIZE": "256",
		"SHUTDOWN_GRACE": "2s", "REACTION_TRIGGERS": "off",
		// The load comes from 200 users in 16 channels at rates no person
		// reaches: the per-user and per-channel limits would refuse most
		// of it, and the bench measures answers, not refusals.
		"USER_RATE": "off", "CHANNEL_RATE": "off", "MAX_REPLIES_PER_THREAD": "0",
	}
}

// startBot starts the bot binary with vars as its whole environment (and
// PATH and HOME), in a folder of its own without a .env, its log to
// stderr: each bot keeps its channel settings' file (SETTINGS_DB's
// default) there, which one process at a time may hold.
func startBot(binary string, vars map[string]string, stderr io.Writer) (*exec.Cmd, error) {
	dir, err := os.MkdirTemp("", "visionbench-bot-")
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	cmd := exec.Command(binary)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = dir // no .env from the repository
	cmd.Stdout = io.Discard
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	return cmd, nil
}

// answerReply is a ~300-token answer, streamed at the given pace.
func answerReply(lat Latency) geminiemu.Reply {
	text := strings.Repeat("Sear the pasta water with salt, then cook the spaghetti until al dente. ", 16)
	r := geminiemu.Reply{Text: text, Delay: lat.TTFT, Chunks: 20}
	if lat.TokensPerSec > 0 {
		tokens := len(text) / 4
		r.ChunkDelay = time.Duration(float64(tokens) / float64(lat.TokensPerSec) / float64(r.Chunks) * float64(time.Second))
	}
	return r
}

// close stops the bot with SIGTERM, as an orchestrator does, then the
// emulators.
func (e *env) close() {
	terminate(e.cmd)
	e.slack.Close()
	e.gemini.Close()
}

// terminate stops a bot with SIGTERM, as an orchestrator does, and kills
// it when it has not exited within 15 s.
func terminate(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	if strings.HasPrefix(filepath.Base(cmd.Dir), "visionbench-bot-") {
		_ = os.RemoveAll(cmd.Dir)
	}
}

// rss returns the bot's resident and peak resident memory in bytes.
func (e *env) rss() (cur, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			cur = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return cur, peak
}

// goroutines reads go_goroutines from the bot's metrics; -1 when the
// listener is not there.
func (e *env) goroutines(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.metrics+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return -1
}

// profile saves a pprof profile from the bot's listener.
func (e *env) profile(ctx context.Context, path, dest string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.metrics+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last 8 KB the bot wrote to stderr, for errors.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = t.b[len(t.b)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// hangReply is a Gemini that never answers: jobs pile up in flight.
func hangReply() geminiemu.Reply { return geminiemu.Reply{Hang: true} }
