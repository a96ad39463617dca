package handlers

import (
	"errors"
	"reflect"
	"testing"
)

// fill sets every field of v, recursively, to a value that is not its
// zero: a field the wire form dropped would come back empty.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x-" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// Every kind of Ask, every field filled, crosses the shared queue as it
// is. The kinds are the fields of asks, so a new kind is tested here
// the moment it can be an Ask.
func TestEveryAskRoundTrips(t *testing.T) {
	t.Parallel()

	var origin Origin
	fill(reflect.ValueOf(&origin).Elem())
	kinds := reflect.TypeFor[asks]()
	for i := range kinds.NumField() {
		kind := kinds.Field(i).Type.Elem()
		t.Run(kind.Name(), func(t *testing.T) {
			t.Parallel()

			v := reflect.New(kind).Elem()
			fill(v)
			ask, ok := v.Interface().(Ask)
			if !ok {
				t.Fatalf("%s has a field in asks but is no Ask", kind)
			}
			req := Request{Origin: origin, Ask: ask}
			data, err := EncodeRequest(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeRequest(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, req) {
				t.Errorf("%#v\ncame back as %#v", req, got)
			}
		})
	}
}

// A request whose Ask this version does not know (a newer replica's)
// still says whom to tell.
func TestUnknownAskKeepsItsOrigin(t *testing.T) {
	t.Parallel()

	got, err := DecodeRequest([]byte(`{"origin":{"Channel":"C1","Thread":"1.2"},"ask":{"a_kind_from_the_future":{}}}`))
	if !errors.Is(err, ErrUnknownAsk) {
		t.Errorf("err = %v, want ErrUnknownAsk", err)
	}
	if got.Channel != "C1" || got.Thread != "1.2" {
		t.Errorf("origin = %+v, want C1 1.2", got.Origin)
	}
	if _, err := DecodeRequest([]byte(`not json`)); err == nil {
		t.Error("garbage decoded")
	}
}
