package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/slackmd"
	"github.com/visionbot/visionbot/prompts"
)

// SettingsAsked is /analyze settings in a conversation: its person wants
// the channel's settings modal.
type SettingsAsked struct{}

// SettingsSaved is the settings modal submitted. Its Origin comes from the
// modal's metadata: the channel, and the private route back.
type SettingsSaved struct {
	// Values are what the modal held when it was saved, for every setting
	// it showed (the locked ones it only names).
	Values ChannelValues
	// Opened is what the modal showed when it opened, which tells what
	// this person changed: only that is saved, so that two people saving
	// at once each keep their own change.
	Opened SettingsOpened
}

func (a SettingsAsked) into(w *asks) { w.SettingsAsked = &a }
func (a SettingsSaved) into(w *asks) { w.SettingsSaved = &a }

// SettingsOpened is what a settings modal showed when it opened, small
// enough for its private_metadata: the brief as its digest.
type SettingsOpened struct {
	Default     string   `json:"d,omitempty"`
	UseCases    []string `json:"u,omitempty"` // none: every use case
	Brief       string   `json:"b,omitempty"` // BriefDigest of the brief
	Reactions   bool     `json:"x,omitempty"`
	DailyTokens int64    `json:"t,omitempty"`
}

// SettingsTarget is what a settings modal carries through Slack to its
// submission: the channel, the private route back, what it showed, and
// the bound of its token allowance, so that a submission is checked
// without a call (CheckSettings) and its change told apart.
type SettingsTarget struct {
	Channel     string         `json:"c"`
	ResponseURL string         `json:"r,omitempty"`
	Opened      SettingsOpened `json:"o"`
	// MaxDailyTokens is the operator's cap on the channel's allowance; 0
	// for none.
	MaxDailyTokens int64 `json:"m,omitempty"`
}

// Encode writes the target as the modal's private_metadata. Without room
// for the response_url, it goes.
func (t SettingsTarget) Encode() string {
	b, _ := json.Marshal(t) // strings, numbers and a list of strings always encode
	if len(b) > maxMetadata && t.ResponseURL != "" {
		t.ResponseURL = ""
		b, _ = json.Marshal(t)
	}
	return string(b)
}

// ReadSettingsTarget reads a settings modal's private_metadata.
func ReadSettingsTarget(metadata string) (SettingsTarget, error) {
	var t SettingsTarget
	if err := json.Unmarshal([]byte(metadata), &t); err != nil {
		return SettingsTarget{}, fmt.Errorf("read the settings modal's metadata: %w", err)
	}
	if t.Channel == "" {
		return SettingsTarget{}, fmt.Errorf("read the settings modal's metadata: no channel")
	}
	return t, nil
}

// BriefDigest stands for a brief in a modal's metadata: it tells whether
// the brief was changed without carrying up to MaxBrief characters.
func BriefDigest(brief string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(brief)))
	return hex.EncodeToString(sum[:8])
}

// SettingsForm is the settings modal of a channel, described without
// Block Kit: bot/blocks renders it.
type SettingsForm struct {
	Channel string
	// Choices are every use case, for both menus.
	Choices     []Choice
	Default     string
	UseCases    []string // the names offered, every one when all are
	Brief       string
	Reactions   bool
	DailyTokens int64
	// MaxDailyTokens is the operator's cap on the channel's allowance; 0
	// for none.
	MaxDailyTokens int64
	// Locked are the settings the operator set for the channel: the modal
	// shows them, and offers no input for them.
	Locked []Setting
	// Notice is shown above the inputs: who changed the settings last.
	Notice   string
	Metadata string
}

// CheckSettings checks a submitted settings modal on its own, with no call
// and no catalog, so that its mistakes are shown in the modal itself, by
// the input they are about: a brief too long, a default the channel would
// not offer, no use case at all, an allowance over the operator's cap. It
// returns nil when there is none.
func CheckSettings(s SettingsSaved, t SettingsTarget) map[Setting]string {
	problems := map[Setting]string{}
	v := s.Values
	if v.Brief != nil {
		if n := utf8.RuneCountInString(strings.TrimSpace(*v.Brief)); n > MaxBrief {
			problems[SettingBrief] = fmt.Sprintf("The brief is %s characters; it can be up to %s.", thousands(n), thousands(MaxBrief))
		}
	}
	offered := t.Opened.UseCases
	if v.UseCases != nil {
		offered = *v.UseCases
		if len(offered) == 0 {
			problems[SettingUseCases] = "Choose at least one use case for this channel."
		}
	}
	def := t.Opened.Default
	if v.Default != nil {
		def = *v.Default
	}
	if len(offered) > 0 && def != "" && !slices.Contains(offered, def) {
		at := SettingDefault
		if v.Default == nil { // the default is locked: the choice to fix is the list
			at = SettingUseCases
		}
		if _, taken := problems[at]; !taken {
			problems[at] = fmt.Sprintf("The default use case, %s, must be one of those this channel uses.", def)
		}
	}
	if v.DailyTokens != nil {
		switch n := *v.DailyTokens; {
		case n < 0:
			problems[SettingDailyTokens] = "A budget is a number of tokens, 0 for none."
		case t.MaxDailyTokens > 0 && n > t.MaxDailyTokens:
			problems[SettingDailyTokens] = fmt.Sprintf("The app's admin allows this channel up to %s tokens a day.", thousands(int(t.MaxDailyTokens)))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}

// settingsAsked answers /analyze settings: in a channel the bot is in, to a
// person who may change them, the modal with the channel's settings;
// anyone else is told privately why not.
func (h *Flows) settingsAsked(ctx context.Context, j *job) {
	o := j.where
	if h.deps.Channels == nil {
		j.respond(ctx, "Channel settings aren't kept by this installation of the app.")
		j.end(nil, "settings_off")
		return
	}
	if isDM(o.Channel) {
		j.respond(ctx, fmt.Sprintf("Settings belong to a channel: run `%s settings` in the channel you want to change. "+
			"In direct messages I use the app's defaults.", h.cfg.Command))
		j.end(nil, "settings_dm")
		return
	}
	var in bool
	err := j.timed(func() error {
		var err error
		in, err = h.slack.Directory.InChannel(ctx, o.Channel)
		return err
	})
	if err != nil {
		j.fail(ctx, fmt.Errorf("check the bot is in %s: %w", o.Channel, err))
		return
	}
	if !in {
		j.respond(ctx, fmt.Sprintf("I'm not in this channel, so it has no settings of mine to change. "+
			"Invite me with `/invite %s`, then run `%s settings` again.", h.cfg.BotName, h.cfg.Command))
		j.end(nil, "settings_not_in_channel")
		return
	}
	s, err := h.deps.Channels.Settings(ctx, o.Channel)
	if err != nil {
		j.respond(ctx, "I can't read this channel's settings right now, so I can't change them. Try again in a moment.")
		j.end(fmt.Errorf("read the settings of %s: %w", o.Channel, err), "")
		return
	}
	if ok, why := h.mayChange(ctx, j, s.Operator.Editors); !ok {
		j.respond(ctx, why)
		j.end(nil, "settings_not_allowed")
		return
	}
	form := h.settingsForm(o, s)
	err = j.timed(func() error { return h.slack.Views.OpenSettings(ctx, o.TriggerID, form) })
	if err != nil {
		j.tellPrivately(ctx, err)
	}
	j.end(err, "form")
}

// mayChange reports whether the person behind j may change the settings of
// its channel, and if not, the words that tell them so.
func (h *Flows) mayChange(ctx context.Context, j *job, e Editors) (bool, string) {
	user := j.where.User
	switch {
	case len(e.Users) > 0:
		if slices.Contains(e.Users, user) {
			return true, ""
		}
		people := make([]string, len(e.Users))
		for i, u := range e.Users {
			people[i] = "<@" + u + ">"
		}
		return false, "The app's admin lets only " + strings.Join(people, ", ") + " change my settings in this channel. Ask one of them."
	case e.Admins:
		var admin bool
		err := j.timed(func() error {
			var err error
			admin, err = h.slack.Directory.IsAdmin(ctx, user)
			return err
		})
		if err != nil {
			h.log.Warn("look up whether a person is a workspace admin", zap.String("user", user), zap.Error(err))
			return false, "I couldn't check that you are a workspace admin or owner, who alone may change my settings in this channel. Try again in a moment."
		}
		if !admin {
			return false, "Only workspace admins and owners may change my settings in this channel. Ask one of them."
		}
	}
	return true, ""
}

// settingsForm is the modal of a channel's settings as they hold now.
func (h *Flows) settingsForm(o Origin, s ChannelSettings) SettingsForm {
	c := h.resolveChannel(o.Channel, s)
	f := SettingsForm{
		Channel: o.Channel, Choices: h.choicesOf(h.catalog.All()), Default: c.def.Name,
		Brief: c.brief, Reactions: c.reactions, DailyTokens: s.DailyTokens(h.cfg.ChannelTokenCap),
		MaxDailyTokens: h.tokenCap(s), Locked: s.Operator.Locked,
	}
	for _, uc := range c.offered {
		f.UseCases = append(f.UseCases, uc.Name)
	}
	opened := SettingsOpened{Default: f.Default, Brief: BriefDigest(f.Brief), Reactions: f.Reactions, DailyTokens: f.DailyTokens}
	if !c.all {
		opened.UseCases = f.UseCases
	}
	if s.ChangedBy != "" {
		f.Notice = fmt.Sprintf("Last changed by <@%s>.", s.ChangedBy)
	}
	f.Metadata = SettingsTarget{Channel: o.Channel, ResponseURL: o.ResponseURL, Opened: opened, MaxDailyTokens: f.MaxDailyTokens}.Encode()
	return f
}

// tokenCap is the operator's cap on a channel's daily allowance: the
// file's for the channel, else CHANNEL_DAILY_TOKENS; 0 for none.
func (h *Flows) tokenCap(s ChannelSettings) int64 {
	if t := s.Operator.Values.DailyTokens; t != nil {
		return *t
	}
	return h.cfg.ChannelTokenCap
}

// settingsSaved saves what a person changed in the settings modal, checked
// again against the settings as they are now, and posts one line in the
// channel that says who changed what. Nothing is saved unless all of it
// is.
func (h *Flows) settingsSaved(ctx context.Context, j *job, saved SettingsSaved) {
	o := j.where
	if h.deps.Channels == nil {
		j.end(nil, "settings_off")
		return
	}
	s, err := h.deps.Channels.Settings(ctx, o.Channel)
	if err != nil {
		j.respond(ctx, "I couldn't save the settings: I can't reach where I keep them right now. Nothing was changed; try again in a moment.")
		j.end(fmt.Errorf("read the settings of %s: %w", o.Channel, err), "")
		return
	}
	if ok, why := h.mayChange(ctx, j, s.Operator.Editors); !ok {
		j.respond(ctx, "Nothing was saved. "+why)
		j.end(nil, "settings_not_allowed")
		return
	}
	change, problem := h.settingsChange(saved, s)
	if problem != "" {
		j.respond(ctx, "Nothing was saved: "+problem)
		j.end(nil, "settings_refused")
		return
	}
	if len(change.Set()) == 0 {
		j.respond(ctx, "Nothing changed: the settings are as they were.")
		j.end(nil, "settings_unchanged")
		return
	}
	_, after, err := h.deps.Channels.Save(ctx, o.Channel, change, o.User)
	if err != nil {
		j.respond(ctx, "I couldn't save the settings: I can't reach where I keep them right now. Nothing was changed; try again in a moment.")
		j.end(fmt.Errorf("save the settings of %s: %w", o.Channel, err), "")
		return
	}
	line := h.announcement(o.User, change, h.resolveChannel(o.Channel, after))
	err = j.timed(func() error {
		_, err := h.slack.Poster.PostMessage(ctx, o.Channel, line)
		return err
	})
	if err != nil {
		j.respond(ctx, "The settings are saved, but I couldn't say so in the channel: "+h.userMessage(err))
		j.end(fmt.Errorf("announce the settings of %s: %w", o.Channel, err), "")
		return
	}
	j.end(nil, "settings_saved")
}

// settingsChange is what a person changed in the modal, from what it
// showed when it opened: only that is saved, and nothing the operator
// locked. Against the settings as they are now (another person may have
// saved meanwhile, the catalog may have changed), it returns what stops
// the change, if anything, in words for the person.
func (h *Flows) settingsChange(saved SettingsSaved, s ChannelSettings) (ChannelValues, string) {
	v, opened := saved.Values, saved.Opened
	var change ChannelValues
	if v.Default != nil && *v.Default != opened.Default {
		uc, ok := h.catalog.Lookup(*v.Default)
		if !ok {
			return ChannelValues{}, fmt.Sprintf("there is no use case %s any more. Open the settings again.", slackmd.Code(*v.Default))
		}
		change.Default = &uc.Name
	}
	if v.UseCases != nil {
		names, problem := h.offeredNames(*v.UseCases)
		if problem != "" {
			return ChannelValues{}, problem
		}
		if !slices.Equal(names, sortedCopy(opened.UseCases)) {
			change.UseCases = &names
		}
	}
	if v.Brief != nil && BriefDigest(*v.Brief) != opened.Brief {
		brief := strings.TrimSpace(*v.Brief)
		change.Brief = &brief
	}
	if v.Reactions != nil && *v.Reactions != opened.Reactions {
		change.Reactions = v.Reactions
	}
	if v.DailyTokens != nil && *v.DailyTokens != opened.DailyTokens {
		change.DailyTokens = v.DailyTokens
	}
	change = change.without(s.Operator.Locks)
	// The settings that would hold, checked as a whole.
	next := ChannelSettings{Operator: s.Operator, Members: s.Members.Merge(change)}.Effective()
	if next.Default != nil && next.UseCases != nil && len(*next.UseCases) > 0 && !slices.Contains(*next.UseCases, *next.Default) {
		return ChannelValues{}, fmt.Sprintf("the default use case, %s, would not be one this channel uses. "+
			"Someone may have changed the settings meanwhile: open them again.", slackmd.Code(*next.Default))
	}
	if b := next.Brief; b != nil && utf8.RuneCountInString(*b) > MaxBrief {
		return ChannelValues{}, fmt.Sprintf("the brief can be up to %s characters.", thousands(MaxBrief))
	}
	if t := change.DailyTokens; t != nil && (*t < 0 || (h.tokenCap(s) > 0 && *t > h.tokenCap(s))) {
		return ChannelValues{}, fmt.Sprintf("the app's admin allows this channel up to %s tokens a day.", thousands(int(h.tokenCap(s))))
	}
	return change, ""
}

// offeredNames are the use cases chosen in the modal by their names,
// sorted; every use case of the catalog is none, which offers every use
// case, new ones too.
func (h *Flows) offeredNames(chosen []string) ([]string, string) {
	var names []string
	for _, name := range chosen {
		uc, ok := h.catalog.Lookup(name)
		if !ok {
			return nil, fmt.Sprintf("there is no use case %s any more. Open the settings again.", slackmd.Code(name))
		}
		if !slices.Contains(names, uc.Name) {
			names = append(names, uc.Name)
		}
	}
	if len(names) == 0 {
		return nil, "choose at least one use case for this channel."
	}
	if len(names) == len(h.catalog.All()) {
		return []string{}, ""
	}
	slices.Sort(names)
	return names, ""
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

// announcement is the one line a save posts in the channel, as Slack posts
// one for a new topic: who changed what, and to what.
func (h *Flows) announcement(user string, change ChannelValues, c channelUse) string {
	var parts []string
	if change.Default != nil {
		parts = append(parts, fmt.Sprintf("default use case `%s`", c.def.Name))
	}
	if change.UseCases != nil {
		if c.all {
			parts = append(parts, "use cases: all of them")
		} else {
			parts = append(parts, "use cases "+useCaseList(c.offered))
		}
	}
	if change.Brief != nil {
		if c.brief == "" {
			parts = append(parts, "no brief")
		} else {
			// The brief is the members' text: shown as the bot shows any
			// text it did not write, its links showing their host and its
			// mentions notifying no one.
			parts = append(parts, "brief “"+slackmd.Safe(strings.Join(strings.Fields(c.brief), " "))+"”")
		}
	}
	if change.Reactions != nil {
		if c.reactions {
			parts = append(parts, "reaction triggers on")
		} else {
			parts = append(parts, "reaction triggers off")
		}
	}
	if change.DailyTokens != nil {
		if n := c.settings.DailyTokens(h.cfg.ChannelTokenCap); n > 0 {
			parts = append(parts, fmt.Sprintf("daily token budget %s", thousands(int(n))))
		} else {
			parts = append(parts, "no daily token budget of its own")
		}
	}
	return fmt.Sprintf("<@%s> changed my settings in this channel: %s.", user, strings.Join(parts, "; "))
}

// choicesOf are use cases as a menu offers them.
func (h *Flows) choicesOf(ucs []prompts.UseCase) []Choice {
	out := make([]Choice, 0, len(ucs))
	for _, uc := range ucs {
		out = append(out, Choice{Name: uc.Name, Label: uc.Name + ": " + uc.Description})
	}
	return out
}
