package bot

// What the code relies on from the Slack app's configuration. manifest.yaml
// must declare exactly these; a test compares them.

// RequiredBotEvents are the events the loop handles.
func RequiredBotEvents() []string { return []string{"app_mention", "message.im"} }

// RequiredCommands are the slash commands the loop routes.
func RequiredCommands() []string { return []string{"/analyze"} }

// RequiredScopes are the bot token scopes of every call the bot makes.
func RequiredScopes() map[string]string {
	return map[string]string{
		"app_mentions:read": "receive app_mention events",
		"chat:write":        "post answers in threads (chat.postMessage)",
		"commands":          "the /analyze slash command",
		"reactions:write":   "show progress with reactions (reactions.add, reactions.remove)",
		"files:read":        "download images and read Slack Connect file stubs (files.info)",
		"channels:history":  "find the photo of /analyze and of a thread in public channels",
		"groups:history":    "the same in private channels",
		"im:history":        "receive DMs (message.im) and read DM threads",
		"mpim:history":      "find photos in group DMs",
	}
}
