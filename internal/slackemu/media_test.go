package slackemu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// asFile is a file object as slack-go reads it from a message's files.
func asFile(t *testing.T, obj map[string]any) slack.File {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var f slack.File
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// fetch downloads u as a client would, with auth as its Authorization
// header ("" for none): the status and the body.
func fetch(t *testing.T, u, auth string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// Videos, audio clips and PDFs come with Slack's copies of them, in the
// file object of an event and of files.info alike, each served at its own
// URL of the file host to the bot token only; slack-go reads every field.
func TestMediaFiles(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	still := MakePNG(64, 36)
	video := s.AddFile(FileSpec{Name: "demo.mp4", Data: []byte("original video"), DurationMS: 389322,
		Transcodes: map[string][]byte{"mp4": []byte("mp4 copy"), "mp4_low": []byte("small copy"),
			"hls": []byte("#EXTM3U\n"), "vtt": []byte("WEBVTT \n\n00:00:00.000 --> 00:00:01.000\nhello\n")},
		Still:      still,
		Transcript: &Transcript{Status: "complete", Locale: "en-GB", Preview: "hello", HasMore: true}})
	clip := s.AddFile(FileSpec{Name: "audio_message.mp4", Mimetype: "video/mp4", Subtype: "slack_audio", Data: []byte("voice"),
		DurationMS: 13977, Transcodes: map[string][]byte{"aac": []byte("aac copy")},
		Transcript: &Transcript{Status: "complete", Locale: "en-US", Preview: "Get to work.", HasMore: false}})
	pdf := s.AddFile(FileSpec{Name: "plan.pdf", Data: []byte("%PDF-1.7"), Still: MakePNG(30, 40)})

	for _, obj := range []map[string]any{video, clip, pdf} {
		info, _, _, err := api.GetFileInfoContext(ctx, obj["id"].(string), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		// files.info answers the object the event carried, and more.
		if ev := asFile(t, obj); info.MP4 != ev.MP4 || info.MP4Low != ev.MP4Low || info.AAC != ev.AAC || info.ThumbPDF != ev.ThumbPDF ||
			info.ThumbVideo != ev.ThumbVideo || info.DurationMs != ev.DurationMs || info.URLPrivate != ev.URLPrivate {
			t.Errorf("files.info %+v\ndiffers from the event's %+v", info, ev)
		}
	}

	v := asFile(t, video)
	if v.MediaDisplayType != "video" || v.DurationMs != 389322 || v.Mimetype != "video/mp4" || v.Size != len("original video") {
		t.Errorf("video = %+v", v)
	}
	if !strings.HasSuffix(v.MP4, "/demo.mp4") || !strings.HasSuffix(v.MP4Low, "/demo_trans.mp4") || !strings.HasSuffix(v.HLS, "/file.m3u8") ||
		!strings.HasSuffix(v.VTT, "/file.vtt") || !strings.Contains(v.MP4, "/files-tmb/T1-") {
		t.Errorf("copies: mp4 %s, mp4_low %s, hls %s, vtt %s", v.MP4, v.MP4Low, v.HLS, v.VTT)
	}
	if v.URLPrivate != v.MP4 || !strings.Contains(v.URLPrivateDownload, "/files-pri/") {
		t.Errorf("a video's url_private is its mp4 copy and its url_private_download the original: %s, %s", v.URLPrivate, v.URLPrivateDownload)
	}
	if !strings.HasSuffix(v.ThumbVideo, "/demo_thumb_video.jpeg") || v.ThumbVideoW != 64 || v.ThumbVideoH != 36 || v.ThumbPDF != "" {
		t.Errorf("still: %s %dx%d", v.ThumbVideo, v.ThumbVideoW, v.ThumbVideoH)
	}
	if tr := v.Transcription; tr == nil || tr.Status != "complete" || tr.Locale != "en-GB" || tr.Preview == nil ||
		tr.Preview.Content != "hello" || tr.Preview.HasMore == nil || !*tr.Preview.HasMore {
		t.Errorf("transcription = %+v", v.Transcription)
	}

	c := asFile(t, clip)
	if c.MediaDisplayType != "audio" || clip["subtype"] != "slack_audio" || c.URLPrivate != c.AAC || !strings.HasSuffix(c.AAC, "/audio_message_audio.mp4") ||
		c.MP4 != "" || c.Transcription.Preview.HasMore == nil || *c.Transcription.Preview.HasMore {
		t.Errorf("voice clip = %+v", c)
	}

	p := asFile(t, pdf)
	if p.MediaDisplayType != "unknown" || !strings.HasSuffix(p.ThumbPDF, "/plan_thumb_pdf.png") || p.ThumbPDFW != 30 || p.ThumbPDFH != 40 ||
		p.Transcription != nil || p.DurationMs != 0 || pdf["transcription"] != nil {
		t.Errorf("pdf = %+v", p)
	}
	// An upload Slack did not transcribe says so.
	plain := asFile(t, s.AddFile(FileSpec{Name: "song.mp3", Data: []byte("mp3")}))
	if plain.MediaDisplayType != "audio" || plain.Transcription == nil || plain.Transcription.Status != "none" || plain.Mimetype != "audio/mpeg" {
		t.Errorf("mp3 = %+v", plain)
	}

	// Each copy at its own URL, to the bot token; the sign-in page to
	// anyone else.
	for url, want := range map[string]string{v.MP4: "mp4 copy", v.MP4Low: "small copy", v.VTT: "WEBVTT", v.ThumbVideo: string(still),
		c.AAC: "aac copy", v.URLPrivateDownload: "original video", c.URLPrivateDownload: "voice"} {
		var buf bytes.Buffer
		if err := api.GetFileContext(ctx, url, &buf); err != nil || !strings.HasPrefix(buf.String(), want) {
			t.Errorf("%s: %.20q, %v; want %.20q", url, buf.Bytes(), err, want)
		}
		if _, body := fetch(t, url, "Bearer xoxb-other"); !bytes.HasPrefix(body, []byte("<!DOCTYPE html>")) {
			t.Errorf("%s went to another token", url)
		}
	}
}

// A copy Slack has not finished is missing from the file object, in the
// event and in files.info, and its URL serves nothing; once finished,
// files.info has it. A video's url_private is the original until its mp4
// copy is ready.
func TestPendingTranscode(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	ev := s.AddFile(FileSpec{Name: "screen.mov", Subtype: "slack_video", Data: []byte("mov"), DurationMS: 1500,
		Transcodes: map[string][]byte{"mp4": []byte("mp4 copy"), "mp4_low": []byte("small")}, Still: MakePNG(8, 8),
		Pending: []string{"mp4", "thumb_video"}})
	id := ev["id"].(string)
	if ev["mp4"] != nil || ev["thumb_video"] != nil || ev["thumb_video_w"] != nil || ev["mp4_low"] == nil || ev["media_display_type"] != "video" {
		t.Errorf("event's file = %v", ev)
	}
	if ev["url_private"] != s.URL()+"files-pri/T1-"+id+"/screen.mov" {
		t.Errorf("url_private = %v, want the original while its mp4 copy is not made", ev["url_private"])
	}
	info, _, _, err := api.GetFileInfoContext(ctx, id, 0, 0)
	if err != nil || info.MP4 != "" || info.ThumbVideo != "" || info.MP4Low == "" {
		t.Fatalf("files.info before = %+v, %v", info, err)
	}
	// The copy's URL, where Slack will put it, serves nothing yet.
	mp4 := strings.TrimSuffix(info.MP4Low, "_trans.mp4") + ".mp4"
	if code, _ := fetch(t, mp4, "Bearer "+botToken); code != http.StatusNotFound {
		t.Errorf("a pending copy answered %d", code)
	}

	if err := s.FinishTranscode(id, "mp4"); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishTranscode(id, "mp4"); err == nil {
		t.Error("a copy finished twice")
	}
	if err := s.FinishTranscode(id, "aac"); err == nil {
		t.Error("finished a copy the file has not")
	}
	info, _, _, err = api.GetFileInfoContext(ctx, id, 0, 0)
	if err != nil || info.MP4 != mp4 || info.URLPrivate != mp4 || info.ThumbVideo != "" {
		t.Fatalf("files.info after = %+v, %v", info, err)
	}
	if code, body := fetch(t, mp4, "Bearer "+botToken); code != http.StatusOK || string(body) != "mp4 copy" {
		t.Errorf("the finished copy: %d %q", code, body)
	}
	if ev["mp4"] != nil {
		t.Error("the event's object changed")
	}
}

// A file can declare another size than the bytes it serves, and serve a
// large body made as it is sent.
func TestDeclaredSizeAndGeneratedBody(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	changed := s.AddFile(FileSpec{Name: "v.mp4", Data: []byte("12345"), Size: 9})
	if changed["size"] != int64(9) {
		t.Errorf("size = %v", changed["size"])
	}
	var buf bytes.Buffer
	if err := api.GetFileContext(ctx, changed["url_private_download"].(string), &buf); err != nil || buf.String() != "12345" {
		t.Errorf("body %q, %v", buf.Bytes(), err)
	}

	const n = 3<<20 + 7
	big := s.AddFile(FileSpec{Name: "long.mp4", Generated: n})
	if big["size"] != int64(n) {
		t.Errorf("size = %v", big["size"])
	}
	req, _ := http.NewRequest(http.MethodGet, big["url_private_download"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+botToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != n {
		t.Errorf("Content-Length %d", resp.ContentLength)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || len(body) != n {
		t.Fatalf("read %d bytes, %v", len(body), err)
	}
	for i, b := range body {
		if b != GeneratedByte(int64(i)) {
			t.Fatalf("byte %d = %d, want %d", i, b, GeneratedByte(int64(i)))
		}
	}
}
