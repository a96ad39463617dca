package blocks

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/visionbot/visionbot/handlers"
)

// What Slack gives for each kind of file, read into handlers.File. The
// payloads are cut down from file objects seen in the wild (docs/media.md
// says where each shape was seen), with their workspace, ids and hosts
// changed: an uploaded video without a smaller copy, a longer one with
// mp4_low, its transcript and its WebVTT; an uploaded MP3 with Slack's aac
// copy; a voice clip recorded in Slack (m4a, a complete transcript); an
// older webm voice clip with an aac copy and a transcript without its
// preview; a PDF with the image of its first page; a video Slack has not
// finished (no copies yet).
func TestFilesOfEachKind(t *testing.T) {
	t.Parallel()

	const tmb = "https://files.slack.com/files-tmb/T9-F9-0a1b2c3d4e/"
	tests := []struct {
		name string
		json string
		want handlers.File
	}{
		{
			name: "an uploaded video",
			json: `{"id":"F9","name":"Walk cycle.mp4","mimetype":"video/mp4","filetype":"mp4","size":767148,"mode":"hosted",
				"transcription":{"status":"none"},
				"mp4":"` + tmb + `walk_cycle.mp4","url_private":"` + tmb + `walk_cycle.mp4",
				"url_private_download":"https://files.slack.com/files-pri/T9-F9/download/walk_cycle.mp4",
				"hls":"` + tmb + `file.m3u8","duration_ms":19953,"media_display_type":"video",
				"thumb_video":"` + tmb + `walk_cycle_thumb_video.jpeg","thumb_video_w":640,"thumb_video_h":360}`,
			want: handlers.File{ID: "F9", Name: "Walk cycle.mp4", Mimetype: "video/mp4", Filetype: "mp4", Size: 767148,
				URLPrivate: tmb + "walk_cycle.mp4", URLDownload: "https://files.slack.com/files-pri/T9-F9/download/walk_cycle.mp4",
				Display: "video", Duration: 19953 * time.Millisecond,
				Transcodes:       map[string]string{"mp4": tmb + "walk_cycle.mp4", "hls": tmb + "file.m3u8"},
				VideoThumb:       handlers.Thumb{URL: tmb + "walk_cycle_thumb_video.jpeg", Width: 640, Height: 360},
				TranscriptStatus: "none"},
		},
		{
			name: "a 1080p video with a smaller copy and a transcript Slack cut",
			json: `{"id":"F9","name":"Overview_1080p.mp4","mimetype":"video/mp4","filetype":"mp4","mode":"hosted","size":13017562,
				"mp4":"` + tmb + `overview_1080p.mp4","mp4_low":"` + tmb + `overview_1080p_trans.mp4",
				"hls":"` + tmb + `file.m3u8?_xcb=a1","vtt":"` + tmb + `file.vtt?_xcb=a1",
				"duration_ms":389322,"media_display_type":"video",
				"transcription":{"status":"complete","locale":"en-GB","preview":{"content":"Logic Flow is a live visual programming environment","has_more":true}},
				"thumb_video":"` + tmb + `overview_1080p_thumb_video.jpeg","thumb_video_w":1920,"thumb_video_h":1080,
				"url_private":"` + tmb + `overview_1080p.mp4"}`,
			want: handlers.File{ID: "F9", Name: "Overview_1080p.mp4", Mimetype: "video/mp4", Filetype: "mp4", Size: 13017562,
				URLPrivate: tmb + "overview_1080p.mp4", Display: "video", Duration: 389322 * time.Millisecond,
				Transcodes: map[string]string{"mp4": tmb + "overview_1080p.mp4", "mp4_low": tmb + "overview_1080p_trans.mp4",
					"hls": tmb + "file.m3u8?_xcb=a1", "vtt": tmb + "file.vtt?_xcb=a1"},
				VideoThumb:       handlers.Thumb{URL: tmb + "overview_1080p_thumb_video.jpeg", Width: 1920, Height: 1080},
				Transcript:       "Logic Flow is a live visual programming environment",
				TranscriptStatus: "complete"},
		},
		{
			name: "an uploaded MP3 and Slack's aac copy",
			json: `{"id":"F9","name":"here we go again.mp3","mimetype":"audio/mpeg","filetype":"mp3","size":102122,"mode":"hosted",
				"transcription":{"status":"none"},
				"url_private":"` + tmb + `here_we_go_again_audio.mp4",
				"url_private_download":"https://files.slack.com/files-pri/T9-F9/download/here_we_go_again.mp3",
				"duration_ms":3187,"aac":"` + tmb + `here_we_go_again_audio.mp4",
				"audio_wave_samples":[0,3,5,2,9,100,91,8],"media_display_type":"audio"}`,
			want: handlers.File{ID: "F9", Name: "here we go again.mp3", Mimetype: "audio/mpeg", Filetype: "mp3", Size: 102122,
				URLPrivate: tmb + "here_we_go_again_audio.mp4", URLDownload: "https://files.slack.com/files-pri/T9-F9/download/here_we_go_again.mp3",
				Display: "audio", Duration: 3187 * time.Millisecond,
				Transcodes:       map[string]string{"aac": tmb + "here_we_go_again_audio.mp4"},
				TranscriptStatus: "none"},
		},
		{
			name: "a voice clip recorded in Slack, its transcript whole",
			json: `{"id":"F9","name":"Audio clip (2022-08-22_15-11-01-551).m4a","mimetype":"audio/mp4","filetype":"m4a","mode":"hosted",
				"subtype":"slack_audio","size":171020,"duration_ms":13977,"media_display_type":"audio",
				"vtt":"` + tmb + `file.vtt?_xcb=0c","transcription":{"status":"complete","locale":"en-US","preview":{"content":"Get to work.","has_more":false}},
				"audio_wave_samples":[0,2,34,75,57,100],
				"url_private":"https://files.slack.com/files-pri/T9-F9/audio_clip__2022-08-22_15-11-01-551_.m4a"}`,
			want: handlers.File{ID: "F9", Name: "Audio clip (2022-08-22_15-11-01-551).m4a", Mimetype: "audio/mp4", Filetype: "m4a", Size: 171020,
				URLPrivate: "https://files.slack.com/files-pri/T9-F9/audio_clip__2022-08-22_15-11-01-551_.m4a",
				Display:    "audio", Clip: "slack_audio", Duration: 13977 * time.Millisecond,
				Transcodes: map[string]string{"vtt": tmb + "file.vtt?_xcb=0c"},
				Transcript: "Get to work.", TranscriptStatus: "complete", TranscriptComplete: true},
		},
		{
			name: "an older webm voice clip: an aac copy, a transcript without its preview",
			json: `{"id":"F9","name":"audio_message.webm","mimetype":"audio/webm","filetype":"webm","mode":"hosted",
				"subtype":"slack_audio","size":2270608,"aac":"` + tmb + `audio_message_audio.mp4",
				"duration_ms":140061,"media_display_type":"audio","transcription":{"status":"complete","locale":"en-US"},
				"url_private":"https://files.slack.com/files-pri/T9-F9/audio_message.webm"}`,
			want: handlers.File{ID: "F9", Name: "audio_message.webm", Mimetype: "audio/webm", Filetype: "webm", Size: 2270608,
				URLPrivate: "https://files.slack.com/files-pri/T9-F9/audio_message.webm",
				Display:    "audio", Clip: "slack_audio", Duration: 140061 * time.Millisecond,
				Transcodes:       map[string]string{"aac": tmb + "audio_message_audio.mp4"},
				TranscriptStatus: "complete"},
		},
		{
			name: "a transcript preview whose has_more is missing is not known to be whole",
			json: `{"id":"F9","subtype":"slack_video","mimetype":"video/mp4","media_display_type":"video",
				"transcription":{"status":"complete","preview":{"content":"hello"}}}`,
			want: handlers.File{ID: "F9", Mimetype: "video/mp4", Display: "video", Clip: "slack_video",
				Transcript: "hello", TranscriptStatus: "complete"},
		},
		{
			name: "a PDF and the image of its first page",
			json: `{"id":"F9","name":"780_3_avenue.pdf","mimetype":"application/pdf","filetype":"pdf","size":6545778,"mode":"hosted",
				"url_private":"https://files.slack.com/files-pri/T9-F9/780_3_avenue.pdf",
				"url_private_download":"https://files.slack.com/files-pri/T9-F9/download/780_3_avenue.pdf",
				"media_display_type":"unknown",
				"thumb_pdf":"` + tmb + `780_3_avenue_thumb_pdf.png","thumb_pdf_w":1928,"thumb_pdf_h":1980}`,
			want: handlers.File{ID: "F9", Name: "780_3_avenue.pdf", Mimetype: "application/pdf", Filetype: "pdf", Size: 6545778,
				URLPrivate: "https://files.slack.com/files-pri/T9-F9/780_3_avenue.pdf", URLDownload: "https://files.slack.com/files-pri/T9-F9/download/780_3_avenue.pdf",
				Display:  "unknown",
				PDFThumb: handlers.Thumb{URL: tmb + "780_3_avenue_thumb_pdf.png", Width: 1928, Height: 1980}},
		},
		{
			name: "a video Slack has not made its copies of yet",
			json: `{"id":"F9","name":"clip.mov","mimetype":"video/quicktime","filetype":"mov","size":5000,"media_display_type":"video",
				"url_private":"https://files.slack.com/files-pri/T9-F9/clip.mov"}`,
			want: handlers.File{ID: "F9", Name: "clip.mov", Mimetype: "video/quicktime", Filetype: "mov", Size: 5000,
				URLPrivate: "https://files.slack.com/files-pri/T9-F9/clip.mov", Display: "video"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FilesJSON(json.RawMessage("[" + tt.json + "]"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Fatalf("read\n %+v\nwant\n %+v", got, tt.want)
			}
			// The typed path reads the same, but for what slack-go's File
			// drops: the clip's subtype.
			var typed slack.File
			if err := json.Unmarshal([]byte(tt.json), &typed); err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Clip = ""
			if f := File(typed); !reflect.DeepEqual(f, want) {
				t.Errorf("File read\n %+v\nwant\n %+v", f, want)
			}
		})
	}
}

func TestFilesJSONRefusesWhatIsNotAFileArray(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{`{"id":"F1"}`, `[1]`, `nope`} {
		if _, err := FilesJSON(json.RawMessage(raw)); err == nil {
			t.Errorf("FilesJSON(%s) read it", raw)
		}
	}
}
