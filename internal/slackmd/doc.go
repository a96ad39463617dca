// Package slackmd is Markdown made safe and sized for Slack: pure
// functions of text, with no Slack client and no state.
//
// What the model writes reaches people twice: as a markdown block, which
// Slack renders as standard Markdown, and as the message's notification
// text, which Slack reads as mrkdwn. Either could carry a link whose visible
// text is not where it goes ("[Sign in to Slack](https://evil.example)",
// Slack's own "<https://evil.example|https://slack.com>") or a mention that
// pings ("<!channel>", "@here"). This package is the one place where
// the model's words are made safe to post (Safe, Stream):
//
//   - every link the model wrote shows its real host: "[text](url)" and
//     "<url|text>" become "text ([host](url))", the host in its ASCII form
//     (a look-alike letter shows as punycode); a bare URL or "<url>" stays,
//     its visible text being the URL itself;
//   - a link to anything but http(s) (javascript:, data:, slack://...) is
//     not a link at all: it stays as text;
//   - any other "](", "] (" or "]:" (a link this code does not rewrite, or a
//     reference definition that would make "[text]" a link) is broken with
//     a backslash, which Markdown shows as nothing;
//   - Slack's mentions ("<@U1>", "<!here|x>") and the words @here,
//     @channel, @everyone get a word joiner after the "@": they read the
//     same and notify nobody.
//
// Markdown's syntax is left alone inside code (fenced blocks and code
// spans), which Slack shows literally; Slack's own "<...>" syntax is
// handled there too, narrowly (real mentions and URL links only, so that
// "<!DOCTYPE html>" survives), since the notification text is mrkdwn, where
// it is live anywhere.
//
// The scanner's code must never be prose for a Markdown parser: a link
// there would pass untouched. So it takes as code only what Markdown surely
// takes as code (code spans closed on their line, fences at most three
// spaces in); a backtick it does not pair is escaped, so that a parser
// cannot pair it otherwise; and once the shape of the text makes a fence
// uncertain (a line less indented than its block, an HTML-looking line),
// it takes no more fences at all. Erring the other way only rewrites
// something shown literally.
//
// What Slack's markdown block renders: its reference (docs.slack.dev,
// "Markdown block") lists bold, italic, links, lists, strikethrough,
// headers, inline code, quotes, ``` code blocks, images as links and
// backslash escapes, and says tables are not supported; yet since 2026
// apps see it render GFM tables, which cut a row at every "|" even inside
// a code span. So the safety pass holds against both readings. ~~~
// fences are not in the reference; they are taken for code as CommonMark
// and GFM take them: the block says it takes standard Markdown.
//
// Beside the safety pass it holds the one fence rule (what opens and
// closes a code block: CodeBlocks), the splitter that cuts an answer into
// messages Slack takes (Split), the notification text of a message
// (Notification), the streaming preview's cut (Preview), and rune-safe
// truncation (Cut, CutChars).
//
// It imports the standard library only, and golang.org/x/net/idna: a host
// is shown as browsers resolve it (UTS #46), which the standard library
// does not do, and which a hand-written copy would get subtly wrong.
package slackmd
