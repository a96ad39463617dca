package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/visionbot/visionbot/handlers"
)

// File is the operator's channel settings (CHANNELS_FILE): defaults for
// every channel and, by channel ID, a channel's own values, the settings
// its members may not change (locked) and who may change the others
// (editors). It is read once, at start; a mistake in it stops the start
// with its line.
type File struct {
	path     string
	defaults handlers.ChannelRules
	channels map[string]handlers.ChannelRules
	lines    map[string]int
}

// FileChannel is a channel the file names, and the line it starts on.
type FileChannel struct {
	ID   string
	Line int
}

// Catalog is what the file's use cases are checked against: the name a
// word (a use case's name or alias) stands for.
type Catalog func(word string) (name string, ok bool)

// ReadFile reads and checks the operator's file at path.
func ReadFile(path string, catalog Catalog) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the channel settings file: %w", err)
	}
	return ParseFile(path, data, catalog)
}

// Rules are the operator's rules of a channel: the file's defaults, with
// the channel's own entry over them (its locks added to theirs).
func (f *File) Rules(channel string) handlers.ChannelRules {
	if f == nil {
		return handlers.ChannelRules{}
	}
	r := f.defaults
	own, ok := f.channels[channel]
	if !ok {
		return r
	}
	r.Values = r.Values.Merge(own.Values)
	r.Locked = slices.Clone(r.Locked)
	for _, s := range own.Locked {
		if !slices.Contains(r.Locked, s) {
			r.Locked = append(r.Locked, s)
		}
	}
	if own.Editors.Admins || len(own.Editors.Users) > 0 {
		r.Editors = own.Editors
	}
	return r
}

// Channels are the channels the file names, in the order it names them.
func (f *File) Channels() []FileChannel {
	if f == nil {
		return nil
	}
	out := make([]FileChannel, 0, len(f.lines))
	for id, line := range f.lines {
		out = append(out, FileChannel{ID: id, Line: line})
	}
	slices.SortFunc(out, func(a, b FileChannel) int { return a.Line - b.Line })
	return out
}

// Path is where the file was read from.
func (f *File) Path() string {
	if f == nil {
		return ""
	}
	return f.path
}

// fileError is a mistake in the file, at a line.
type fileError struct {
	line int
	msg  string
}

func (e fileError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func mistake(n *yaml.Node, format string, args ...any) error {
	return fileError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// ParseFile reads the operator's file, named name in its errors: every
// use case must be in catalog, every channel an ID, every value in range.
// Its error names the line to fix.
func ParseFile(name string, data []byte, catalog Catalog) (*File, error) {
	f, err := parseFile(data, catalog)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.path = name
	return f, nil
}

func parseFile(data []byte, catalog Catalog) (*File, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &File{channels: map[string]handlers.ChannelRules{}, lines: map[string]int{}}, nil
		}
		// yaml's errors name their line already, over several lines.
		return nil, errors.New(strings.Join(strings.Fields(err.Error()), " "))
	}
	f := &File{channels: map[string]handlers.ChannelRules{}, lines: map[string]int{}}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, mistake(root, "the file holds defaults: and channels:, not a %s", kindName(root))
	}
	err := eachKey(root, func(key, value *yaml.Node) error {
		switch key.Value {
		case "defaults":
			r, err := parseRules(value, catalog, false)
			if err != nil {
				return err
			}
			f.defaults = r
			return nil
		case "channels":
			if value.Kind != yaml.MappingNode {
				return mistake(value, "channels: holds channel IDs, each with its settings")
			}
			return eachKey(value, func(id, entry *yaml.Node) error {
				if !isChannelID(id.Value) {
					return mistake(id, "%q is not a channel ID such as C0123ABCD: a channel's ID is at the bottom of its details (a name won't do, as channels are renamed)", id.Value)
				}
				if _, twice := f.lines[id.Value]; twice {
					return mistake(id, "channel %s is already listed on line %d", id.Value, f.lines[id.Value])
				}
				r, err := parseRules(entry, catalog, true)
				if err != nil {
					return err
				}
				f.channels[id.Value] = r
				f.lines[id.Value] = id.Line
				return nil
			})
		}
		return mistake(key, "unknown key %q: the file holds defaults: and channels:", key.Value)
	})
	if err != nil {
		return nil, err
	}
	// Each channel's rules as a whole: its default must be one of the use
	// cases it offers, whichever part of the file set them.
	for id, line := range f.lines {
		v := f.Rules(id).Values
		if v.Default != nil && v.UseCases != nil && len(*v.UseCases) > 0 && !slices.Contains(*v.UseCases, *v.Default) {
			return nil, fileError{line: line, msg: fmt.Sprintf("channel %s: its default, %s, is not one of its use_cases", id, *v.Default)}
		}
	}
	v := f.defaults.Values
	if v.Default != nil && v.UseCases != nil && len(*v.UseCases) > 0 && !slices.Contains(*v.UseCases, *v.Default) {
		return nil, errors.New("defaults: the default, " + *v.Default + ", is not one of the use_cases")
	}
	return f, nil
}

// parseRules reads the settings of one channel, or the defaults of all.
func parseRules(n *yaml.Node, catalog Catalog, channel bool) (handlers.ChannelRules, error) {
	var r handlers.ChannelRules
	if n.Kind != yaml.MappingNode {
		return r, mistake(n, "a channel's settings are keys such as default:, use_cases:, brief:, reactions:, daily_tokens:, locked: and editors:")
	}
	err := eachKey(n, func(key, value *yaml.Node) error {
		switch key.Value {
		case "name":
			if !channel {
				return mistake(key, "name: belongs to a channel, for the people who read the file")
			}
			return nil // for people: IDs say which channel, names help read them
		case string(handlers.SettingDefault):
			name, err := useCase(value, catalog)
			if err != nil {
				return err
			}
			r.Values.Default = &name
		case string(handlers.SettingUseCases):
			names, err := useCases(value, catalog)
			if err != nil {
				return err
			}
			r.Values.UseCases = &names
		case string(handlers.SettingBrief):
			if value.Kind != yaml.ScalarNode {
				return mistake(value, "brief: is a short text")
			}
			brief := strings.TrimSpace(value.Value)
			if n := utf8.RuneCountInString(brief); n > handlers.MaxBrief {
				return mistake(value, "brief: %d characters, and a brief can be up to %d", n, handlers.MaxBrief)
			}
			r.Values.Brief = &brief
		case string(handlers.SettingReactions):
			on, err := onOff(value)
			if err != nil {
				return err
			}
			r.Values.Reactions = &on
		case string(handlers.SettingDailyTokens):
			t, err := tokens(value)
			if err != nil {
				return err
			}
			r.Values.DailyTokens = &t
		case "locked":
			locked, err := lockedSettings(value)
			if err != nil {
				return err
			}
			r.Locked = locked
		case "editors":
			e, err := editors(value)
			if err != nil {
				return err
			}
			r.Editors = e
		default:
			return mistake(key, "unknown key %q: a channel's settings are default, use_cases, brief, reactions, daily_tokens, locked and editors", key.Value)
		}
		return nil
	})
	return r, err
}

func useCase(n *yaml.Node, catalog Catalog) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return "", mistake(n, "a use case is a name such as describe")
	}
	name, ok := catalog(n.Value)
	if !ok {
		return "", mistake(n, "there is no use case %q (visionbot usecases lists them)", n.Value)
	}
	return name, nil
}

// useCases reads "all" (none listed: every use case) or a list of use
// cases, sorted.
func useCases(n *yaml.Node, catalog Catalog) ([]string, error) {
	if n.Kind == yaml.ScalarNode && n.Value == "all" {
		return []string{}, nil
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, mistake(n, "use_cases: is all, or a list of use cases such as [recipe, nutrition]")
	}
	var names []string
	for _, item := range n.Content {
		name, err := useCase(item, catalog)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func onOff(n *yaml.Node) (bool, error) {
	switch strings.ToLower(n.Value) {
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return false, mistake(n, "reactions: is on or off")
}

// tokens reads a number of tokens, with _ or , between digits allowed.
func tokens(n *yaml.Node) (int64, error) {
	t, err := strconv.ParseInt(strings.NewReplacer("_", "", ",", "").Replace(n.Value), 10, 64)
	if n.Kind != yaml.ScalarNode || err != nil || t < 0 {
		return 0, mistake(n, "daily_tokens: is a number of tokens such as 2_000_000, or 0 for none")
	}
	return t, nil
}

func lockedSettings(n *yaml.Node) ([]handlers.Setting, error) {
	if n.Kind == yaml.ScalarNode && n.Value == "all" {
		return handlers.AllSettings(), nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, mistake(n, "locked: is all, or a list of settings such as [brief, daily_tokens]")
	}
	var out []handlers.Setting
	for _, item := range n.Content {
		s := handlers.Setting(item.Value)
		if item.Kind != yaml.ScalarNode || !slices.Contains(handlers.AllSettings(), s) {
			return nil, mistake(item, "%q is not a setting: locked: lists default, use_cases, brief, reactions or daily_tokens", item.Value)
		}
		out = append(out, s)
	}
	return out, nil
}

// editors reads who may change a channel's settings: members (anyone in
// the channel), admins (the workspace's admins and owners), or a list of
// user IDs.
func editors(n *yaml.Node) (handlers.Editors, error) {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "members":
			return handlers.Editors{}, nil
		case "admins":
			return handlers.Editors{Admins: true}, nil
		}
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return handlers.Editors{}, mistake(n, "editors: is members, admins, or a list of user IDs such as [U0123ABCD]")
	}
	var e handlers.Editors
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode || !isUserID(item.Value) {
			return handlers.Editors{}, mistake(item, "%q is not a user ID such as U0123ABCD: it is under Copy member ID in a person's profile", item.Value)
		}
		e.Users = append(e.Users, item.Value)
	}
	return e, nil
}

// eachKey calls f with each key of a mapping and its value, refusing a key
// given twice.
func eachKey(m *yaml.Node, f func(key, value *yaml.Node) error) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key := m.Content[i]
		if line, twice := seen[key.Value]; twice {
			return mistake(key, "%q is already given on line %d", key.Value, line)
		}
		seen[key.Value] = key.Line
		if err := f(key, m.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	}
	return "value of another kind"
}

// isChannelID reports whether s looks like a channel's ID: C… or G…
// (private channels made before 2021), upper-case letters and digits. A
// DM has no settings: it uses the operator's defaults.
func isChannelID(s string) bool {
	return len(s) >= 2 && (s[0] == 'C' || s[0] == 'G') && upperAlnum(s)
}

// isUserID reports whether s looks like a user's ID: U… or W….
func isUserID(s string) bool {
	return len(s) >= 2 && (s[0] == 'U' || s[0] == 'W') && upperAlnum(s)
}

func upperAlnum(s string) bool {
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
