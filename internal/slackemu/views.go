package slackemu

import (
	"encoding/json"
	"fmt"
	"time"
)

type trigger struct {
	issued time.Time
	used   bool
}

// NewTriggerID issues a trigger_id for a payload the test builds. Like
// Slack's, it opens one view and expires after TriggerTTL. (trigger_ids the
// emulator did not issue are accepted as they are.)
func (s *Server) NewTriggerID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("%d.%d.%s", 1000000000+s.nextID(), 738474920, randomHex(16))
	s.triggers[id] = &trigger{issued: time.Now()}
	return id
}

// Views returns the views opened, pushed or published, in their current
// state, in the order they were created.
func (s *Server) Views() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.viewOrder))
	for _, id := range s.viewOrder {
		out = append(out, cloneFields(s.views[id]))
	}
	return out
}

// viewArg parses the "view" argument; the caller holds s.mu.
func viewArg(r *apiReq) (map[string]any, bool) {
	var v map[string]any
	raw := r.json["view"]
	if raw == nil && r.param("view") != "" {
		raw = json.RawMessage(r.param("view"))
	}
	if raw == nil || json.Unmarshal(raw, &v) != nil || v == nil {
		return nil, false
	}
	return v, true
}

// saveView completes a view object the way Slack returns it and stores it.
func (s *Server) saveView(id string, v map[string]any) map[string]any {
	v["id"] = id
	v["team_id"] = TeamID
	v["app_id"] = AppID
	v["bot_id"] = BotID
	v["app_installed_team_id"] = TeamID
	v["hash"] = fmt.Sprintf("%d.%s", time.Now().Unix(), randomHex(4))
	if _, ok := v["state"]; !ok {
		v["state"] = map[string]any{"values": map[string]any{}}
	}
	if _, ok := v["root_view_id"]; !ok {
		v["root_view_id"] = id
	}
	if _, ok := v["external_id"]; !ok {
		v["external_id"] = ""
	}
	if _, ok := s.views[id]; !ok {
		s.viewOrder = append(s.viewOrder, id)
	}
	s.views[id] = v
	s.notify()
	return cloneFields(v)
}

func (s *Server) viewsOpen(r *apiReq) any {
	tid := r.param("trigger_id")
	if tid == "" {
		return apiErr("invalid_arguments")
	}
	if t := s.triggers[tid]; t != nil {
		switch {
		case t.used:
			return apiErr("exchanged_trigger_id")
		case time.Since(t.issued) > s.triggerTTL:
			return apiErr("expired_trigger_id")
		}
		t.used = true
	}
	v, ok := viewArg(r)
	if !ok {
		return apiErr("invalid_arguments")
	}
	return okResp("view", s.saveView(fmt.Sprintf("V%010d", s.nextID()), v))
}

func (s *Server) viewsUpdate(r *apiReq) any {
	id := r.param("view_id")
	if id == "" {
		if ext := r.param("external_id"); ext != "" {
			for vid, v := range s.views {
				if v["external_id"] == ext {
					id = vid
				}
			}
		}
	}
	old := s.views[id]
	if old == nil {
		return apiErr("not_found")
	}
	if h := r.param("hash"); h != "" && h != old["hash"] {
		return apiErr("hash_conflict")
	}
	v, ok := viewArg(r)
	if !ok {
		return apiErr("invalid_arguments")
	}
	v["root_view_id"] = old["root_view_id"]
	return okResp("view", s.saveView(id, v))
}

func (s *Server) viewsPublish(r *apiReq) any {
	user := r.param("user_id")
	if user == "" {
		return apiErr("invalid_arguments")
	}
	v, ok := viewArg(r)
	if !ok {
		return apiErr("invalid_arguments")
	}
	// One home tab per user: publishing again updates it.
	id := s.homes[user]
	if id == "" {
		id = fmt.Sprintf("V%010d", s.nextID())
		s.homes[user] = id
	}
	return okResp("view", s.saveView(id, v))
}

// jsonUnmarshalObject decodes a JSON object, failing on anything else.
func jsonUnmarshalObject(b []byte, m *map[string]any) error {
	if err := json.Unmarshal(b, m); err != nil {
		return err
	}
	if *m == nil {
		return fmt.Errorf("not an object")
	}
	return nil
}
