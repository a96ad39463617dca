#!/bin/sh
# Regenerates the media fixtures of internal/media/testdata (see README.md).
# Needs ffmpeg and qpdf (apt-get install -y ffmpeg qpdf); the tests need
# neither: they read the files committed next to this script.
set -eu
cd "$(dirname "$0")"
Q="-hide_banner -loglevel error -y"
O="-fflags +bitexact -map_metadata -1"
V="-f lavfi -i testsrc=size=96x64:rate=10:duration=3"
A="-f lavfi -i sine=frequency=440:sample_rate=16000:duration=3"
H264="-c:v libx264 -preset veryslow -crf 40 -pix_fmt yuv420p"
AAC="-c:a aac -b:a 16k -ac 1"

# Video: 3 s of H.264 (+ AAC) with the moov box before and after the
# mdat, a silent QuickTime movie, a WebM (VP8 + Opus), and an MP4 cut short.
ffmpeg $Q $V $A $H264 $AAC -movflags +faststart $O video_faststart.mp4
ffmpeg $Q $V $A $H264 $AAC $O video_moov_end.mp4
ffmpeg $Q $V $H264 -an -f mov $O video_silent.mov
ffmpeg $Q $V $A -c:v libvpx -b:v 20k -c:a libopus -b:a 12k -ac 1 $O video.webm
head -c 7000 video_moov_end.mp4 >video_truncated.mp4

# Audio: a tone of 1 or 2 s in each format, and silence.
S="-f lavfi -i sine=frequency=440:sample_rate=16000:duration=2"
ffmpeg $Q -f lavfi -i sine=frequency=440:sample_rate=8000:duration=1 -ac 1 -c:a pcm_s16le $O audio.wav
ffmpeg $Q $S -ac 1 -c:a libmp3lame -b:a 32k -id3v2_version 0 $O audio.mp3
ffmpeg $Q $S -ac 1 -c:a libmp3lame -b:a 32k -id3v2_version 3 -fflags +bitexact -metadata title=clip audio_id3.mp3
ffmpeg $Q $S $AAC $O audio.m4a
ffmpeg $Q $S $AAC -f adts $O audio.aac
ffmpeg $Q $S -ac 1 -c:a libopus -b:a 12k $O audio.ogg
ffmpeg $Q $S -ac 1 -c:a libvorbis -q:a 0 $O audio_vorbis.ogg
ffmpeg $Q -f lavfi -i sine=frequency=440:sample_rate=8000:duration=1 -ac 1 $O audio.flac
ffmpeg $Q -f lavfi -i anullsrc=r=16000:cl=mono -t 2 -c:a libopus -b:a 6k $O silence.ogg
ffmpeg $Q -f lavfi -i anullsrc=r=16000:cl=mono -t 2 $AAC $O silence.m4a

# PDF: two pages of text written by hand; qpdf writes the cross-reference
# table (it warns that there was none), object streams, the linearized
# layout and AES-256 encryption.
cat >raw.pdf <<'PDF'
%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 5 0 R /Resources << /Font << /F1 7 0 R >> >> >> endobj
4 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 6 0 R /Resources << /Font << /F1 7 0 R >> >> >> endobj
5 0 obj << /Length 38 >> stream
BT /F1 18 Tf 20 40 Td (Page one) Tj ET
endstream endobj
6 0 obj << /Length 38 >> stream
BT /F1 18 Tf 20 40 Td (Page two) Tj ET
endstream endobj
7 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj
trailer << /Root 1 0 R /Size 8 >>
%%EOF
PDF
pdf() { qpdf --no-warn "$@" || [ $? -eq 3 ]; }
pdf --deterministic-id raw.pdf doc_two_pages.pdf
pdf --deterministic-id --object-streams=generate raw.pdf doc_objstm.pdf
pdf --deterministic-id --linearize raw.pdf doc_linearized.pdf
pdf --static-id --encrypt user owner 256 -- raw.pdf doc_encrypted.pdf
rm raw.pdf
