package gemini

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"google.golang.org/genai"
)

// Thinking is how much the model may think before it answers
// (GEMINI_THINKING), from off to high.
type Thinking string

const (
	ThinkingOff     Thinking = "off"
	ThinkingMinimal Thinking = "minimal"
	ThinkingLow     Thinking = "low"
	ThinkingMedium  Thinking = "medium"
	ThinkingHigh    Thinking = "high"
)

// UnmarshalText reads a thinking level, so that configuration parses it
// once, where it is read.
func (t *Thinking) UnmarshalText(text []byte) error {
	switch level := Thinking(text); level {
	case ThinkingOff, ThinkingMinimal, ThinkingLow, ThinkingMedium, ThinkingHigh:
		*t = level
		return nil
	}
	return fmt.Errorf("%q is not one of off, minimal, low, medium, high", text)
}

// thinkingConfig picks the one thinking knob the model understands.
//
// The SDK sends ThinkingConfig as given; it does not translate between the
// two generations, so the choice is ours:
//   - Gemini 3 models take thinkingLevel (MINIMAL…HIGH) and reject a
//     request that sets both knobs.
//   - Gemini 2.5 models take thinkingBudget (tokens) and reject
//     thinkingLevel.
//   - Gemini 3 still accepts thinkingBudget for backward compatibility.
//
// So thinkingLevel goes only to names that are certainly Gemini 3 or later
// ("gemini-3-flash-preview"), and everything else, including aliases such
// as "gemini-flash-latest" whose target moves over time, gets a budget,
// which both generations accept. Models before 2.5 cannot think at all and
// get no thinking config.
//
// allowance is what thinking may spend of maxOutputTokens, which Gemini
// counts thinking against: the level's budget (a level has no hard cap,
// its budget is the measure).
func thinkingConfig(model string, level Thinking) (config *genai.ThinkingConfig, allowance int, err error) {
	budgets := map[Thinking]int32{
		"off": 0,
		// 512 is the smallest budget every 2.5 model accepts (Flash-Lite's
		// floor); 24576 is the largest Flash and Flash-Lite accept.
		"minimal": 512,
		"low":     1024,
		"medium":  8192,
		"high":    24576,
	}
	budget, ok := budgets[level]
	if !ok {
		return nil, 0, fmt.Errorf("gemini: thinking %q is not one of off, minimal, low, medium, high", level)
	}
	name := path.Base(model) // "models/x", "publishers/google/models/x" → "x"
	major := majorVersion(name)
	pro := strings.Contains(name, "-pro")
	switch {
	case major >= 3:
		levels := map[Thinking]genai.ThinkingLevel{
			// Gemini 3 cannot switch thinking off; MINIMAL is the least.
			"off": genai.ThinkingLevelMinimal, "minimal": genai.ThinkingLevelMinimal,
			"low": genai.ThinkingLevelLow, "medium": genai.ThinkingLevelMedium, "high": genai.ThinkingLevelHigh,
		}
		l := levels[level]
		if pro && l == genai.ThinkingLevelMinimal {
			// Gemini 3 Pro's lowest level is LOW.
			l = genai.ThinkingLevelLow
		}
		allowance := map[genai.ThinkingLevel]int32{
			genai.ThinkingLevelMinimal: budgets["minimal"], genai.ThinkingLevelLow: budgets["low"],
			genai.ThinkingLevelMedium: budgets["medium"], genai.ThinkingLevelHigh: budgets["high"],
		}[l]
		return &genai.ThinkingConfig{ThinkingLevel: l}, int(allowance), nil
	case major == 2 && strings.HasPrefix(name, "gemini-2.0"), major == 1:
		return nil, 0, nil
	}
	if pro && budget == 0 {
		// 2.5 Pro only works in thinking mode; 128 is its minimum budget.
		budget = 128
	}
	return &genai.ThinkingConfig{ThinkingBudget: &budget}, int(budget), nil
}

// majorVersion returns N of "gemini-N…" ("gemini-2.5-flash" → 2), or 0 for
// names without a version (aliases such as "gemini-flash-latest").
func majorVersion(name string) int {
	rest, ok := strings.CutPrefix(name, "gemini-")
	if !ok {
		return 0
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil {
		return 0
	}
	return n
}
