package bot

import "github.com/visionbot/visionbot/bot/blocks"

// What the code relies on from the Slack app's configuration. manifest.yaml
// must declare exactly these; a test compares them.

// RequiredBotEvents are the events the loop handles.
func RequiredBotEvents() []string {
	return []string{"app_mention", "message.im", "reaction_added", "app_home_opened", "agent_session_stopped", "app_context_changed"}
}

// RequiredShortcuts are the message shortcuts the loop routes, by
// callback_id.
func RequiredShortcuts() []string { return []string{blocks.CallbackShortcut} }

// RequiredCommands are the slash commands the loop routes.
func RequiredCommands() []string { return []string{"/analyze"} }

// RequiredScopes are the bot token scopes of every call the bot makes.
func RequiredScopes() map[string]string {
	return map[string]string{
		"app_mentions:read": "receive app_mention events",
		"chat:write":        "post and stream answers in threads (chat.postMessage, chat.update, chat.*Stream), show a thread's loading status (assistant.threads.setStatus) and its agent session (agents.sessions.setStatus)",
		"assistant:write":   "suggest prompts in the Messages tab (assistant.threads.setSuggestedPrompts); Slack adds it to an app declared as an agent",
		"commands":          "the /analyze slash command",
		"reactions:write":   "show progress with reactions (reactions.add, reactions.remove)",
		"files:read":        "download images and read Slack Connect file stubs (files.info)",
		"files:write":       "share a code answer too long for its thread as snippet files in the thread (files.getUploadURLExternal, files.completeUploadExternal)",
		"channels:history":  "find the photo of /analyze and of a thread in public channels",
		"groups:history":    "the same in private channels",
		"im:history":        "receive DMs (message.im) and read DM threads",
		"mpim:history":      "find photos in group DMs",
		"reactions:read":    "receive reaction_added: reaction triggers",
		"users:read":        "learn the team of a person whose event doesn't say it (users.info), so that the allow-lists hold in Slack Connect channels, and whether a person is a workspace admin or owner, where only they may change a channel's settings",
		"channels:read":     "tell whether the bot is in a public channel before /analyze settings changes its settings (conversations.info)",
		"groups:read":       "the same in private channels",
	}
}

// FeatureScopes are the required scopes whose absence turns off one
// feature, not the bot, with what goes missing: an app installed before the
// feature keeps answering until an admin adds the scope and reinstalls,
// and visionbot check warns rather than refuses.
func FeatureScopes() map[string]string {
	return map[string]string{
		"assistant:write": "the Messages tab shows no suggested prompts",
		"files:write":     "a code answer too long for its thread comes without its code as a file",
		"reactions:write": "PROGRESS_REACTIONS=true shows no reactions",
		"channels:read":   "/analyze settings can't change the settings of a public channel",
		"groups:read":     "/analyze settings can't change the settings of a private channel",
	}
}
