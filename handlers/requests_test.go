package handlers

// The requests the Slack side decodes from each surface, made the way its
// decoder makes them, for the handler tests.

func mention(m Message) Request {
	return Request{
		Origin: Origin{Trigger: TriggerMention, Channel: m.Channel, Thread: threadOf(m), Message: m.TS, User: m.User, Team: m.Team},
		Ask:    Said{Text: m.Text, Files: m.Files},
	}
}

func dm(m Message) Request {
	r := mention(m)
	r.Trigger = TriggerDM
	return r
}

func slash(text, triggerID string) Request {
	return Request{
		Origin: Origin{Trigger: TriggerSlash, Channel: "C1", User: "U1", ResponseURL: "https://hooks.slack.com/x", TriggerID: triggerID},
		Ask:    Command{Text: text},
	}
}

func shortcutOn(m Message) Request {
	return Request{
		Origin: Origin{Trigger: TriggerShortcut, Channel: "C1", User: "U1", ResponseURL: "https://hooks.slack.com/r", TriggerID: "1.2.x"},
		Ask:    ShortcutOn{Message: m},
	}
}

func submitted(target FormTarget, sub Submission) Request {
	sub.Files = target.Files
	return Request{
		Origin: Origin{Trigger: TriggerForm, Channel: target.Channel, Thread: target.Thread, Message: target.Message,
			User: "U1", ResponseURL: target.ResponseURL},
		Ask: sub,
	}
}

func rerunOf(thread, useCase string, ref AnswerRef) Request {
	return Request{
		Origin: Origin{Trigger: TriggerRerun, Channel: "C1", Thread: thread, User: "U1"},
		Ask:    Rerun{UseCase: useCase, Ref: ref},
	}
}

func voteBy(user, responseURL string, up bool, ref AnswerRef) Request {
	return Request{
		Origin: Origin{Trigger: TriggerFeedback, Channel: "C1", User: user, ResponseURL: responseURL},
		Ask:    Vote{Up: up, Ref: ref},
	}
}

func reactedTo(ts, useCase string) Request {
	return Request{
		Origin: Origin{Trigger: TriggerReaction, Channel: "C1", Thread: ts, Message: ts, User: "U1"},
		Ask:    Reacted{UseCase: useCase},
	}
}

func homeOf(user string) Request {
	return Request{Origin: Origin{Trigger: TriggerHome, User: user}, Ask: HomeOpened{}}
}
