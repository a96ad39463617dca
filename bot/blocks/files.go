package blocks

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/slack-go/slack"
	"github.com/visionbot/visionbot/handlers"
)

// What the bot reads back of the files Slack sends, in events, submissions
// and Web API answers alike.

func Files(files []slack.File) []handlers.File {
	out := make([]handlers.File, 0, len(files))
	for _, f := range files {
		out = append(out, File(f))
	}
	return out
}

// File reads a slack-go file object. For a video or an audio file,
// url_private is one of Slack's copies (files-tmb: the mp4, or the aac),
// not the original; url_private_download stays the original, whose size
// Size is.
func File(f slack.File) handlers.File {
	out := handlers.File{
		ID: f.ID, Name: f.Name, Mimetype: f.Mimetype, Filetype: f.Filetype, Size: int64(f.Size),
		URLPrivate: f.URLPrivate, URLDownload: f.URLPrivateDownload, Access: f.FileAccess,
		User: f.User, SharedIn: sharedIn(f),
		Display:    f.MediaDisplayType,
		Duration:   time.Duration(f.DurationMs) * time.Millisecond,
		Transcodes: transcodes(f),
		PDFThumb:   handlers.Thumb{URL: f.ThumbPDF, Width: f.ThumbPDFW, Height: f.ThumbPDFH},
		VideoThumb: handlers.Thumb{URL: f.ThumbVideo, Width: f.ThumbVideoW, Height: f.ThumbVideoH},
	}
	if t := f.Transcription; t != nil {
		out.TranscriptStatus = t.Status
		if p := t.Preview; p != nil {
			out.Transcript = p.Content
			// An absent has_more says nothing: only false says the
			// preview is the whole transcript.
			out.TranscriptComplete = t.Status == "complete" && p.HasMore != nil && !*p.HasMore
		}
	}
	for _, t := range []handlers.Thumb{
		{URL: f.Thumb1024, Width: f.Thumb1024W, Height: f.Thumb1024H},
		{URL: f.Thumb960, Width: f.Thumb960W, Height: f.Thumb960H},
		{URL: f.Thumb800, Width: f.Thumb800W, Height: f.Thumb800H},
		{URL: f.Thumb720, Width: f.Thumb720W, Height: f.Thumb720H},
		{URL: f.Thumb480, Width: f.Thumb480W, Height: f.Thumb480H},
		{URL: f.Thumb360, Width: f.Thumb360W, Height: f.Thumb360H},
	} {
		if t.URL != "" {
			out.Thumbs = append(out.Thumbs, t)
		}
	}
	return out
}

// transcodes are the copies of f Slack has made so far, by the field that
// names them; nil for a file without any (an image, a PDF).
func transcodes(f slack.File) map[string]string {
	var out map[string]string
	for name, url := range map[string]string{"mp4": f.MP4, "mp4_low": f.MP4Low, "aac": f.AAC, "hls": f.HLS, "vtt": f.VTT} {
		if url == "" {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = url
	}
	return out
}

// clipFields are the fields of a file object that slack-go's File leaves
// out and the bot reads.
type clipFields struct {
	Subtype string `json:"subtype"`
}

// FilesJSON reads a JSON array of file objects (a message's "files") as
// File does, and also what slack-go's File does not keep: the subtype of a
// clip recorded in Slack. The bytes are decoded twice, into slack.File and
// into the few fields of its own, which keeps slack-go the reader of every
// other field.
func FilesJSON(raw json.RawMessage) ([]handlers.File, error) {
	var typed []slack.File
	if err := json.Unmarshal(raw, &typed); err != nil {
		return nil, fmt.Errorf("read files: %w", err)
	}
	var extra []clipFields
	if err := json.Unmarshal(raw, &extra); err != nil {
		return nil, fmt.Errorf("read files: %w", err)
	}
	out := Files(typed)
	for i := range out {
		out[i].Clip = extra[i].Subtype
	}
	return out, nil
}

// Message converts a slack-go message.
func Message(channel string, m slack.Msg) handlers.Message {
	if m.Channel != "" {
		channel = m.Channel
	}
	return handlers.Message{
		Channel: channel, TS: m.Timestamp, ThreadTS: m.ThreadTimestamp,
		User: m.User, Team: m.Team, BotID: m.BotID, Text: m.Text,
		Files: MessageFiles(m.Files, m.Attachments), Answer: RefOf(m.Blocks),
	}
}

// MessageFiles are a message's files and those of the messages it
// forwards: Slack puts a forwarded message's files in its attachment.
func MessageFiles(files []slack.File, attachments []slack.Attachment) []handlers.File {
	out := Files(files)
	for _, att := range attachments {
		if att.IsShare {
			out = append(out, Files(att.Files)...)
		}
	}
	return out
}

// sharedIn lists the conversations a file object says the file is shared
// in: its channels (public), groups (private channels) and ims (DMs), and
// the conversations its shares.public and shares.private are keyed by,
// which files.info may fill where the lists are short (has_more_shares),
// sorted, each once.
func sharedIn(f slack.File) []string {
	var out []string
	out = append(append(append(out, f.Channels...), f.Groups...), f.IMs...)
	for _, shares := range []map[string][]slack.ShareFileInfo{f.Shares.Public, f.Shares.Private} {
		for channel := range shares {
			out = append(out, channel)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
