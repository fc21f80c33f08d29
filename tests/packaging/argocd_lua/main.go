// Command argocd-lua runs Argo CD resource customizations (health checks, action discovery, actions) the way
// Argo CD's application controller and API server do: gopher-lua v1.1.2 in Argo CD's sandbox, results
// converted with layeh.com/gopher-json, as in util/lua/lua.go and util/lua/oslib_safe.go of
// github.com/argoproj/argo-cd/v3 (Apache-2.0; mirrored from commit 37ee0097cf, whose go.mod pins both
// libraries at the versions in this module's go.mod). Argo CD's own package cannot be built here: it needs
// github.com/argoproj/argo-cd/gitops-engine/v3, which the module proxy does not serve, and half of Kubernetes.
//
// Input on stdin: {"cases": [{"mode": "health"|"discovery"|"action", "script": "...", "scripts": [...],
// "obj": {...}}]}. Output on stdout: {"results": [{"health": {...}} | {"actions": [...]} |
// {"impacted": [...]} | {"error": "..."}]}, one per case, in order.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

type request struct {
	Cases []testCase `json:"cases"`
}

type testCase struct {
	Mode    string         `json:"mode"`
	Script  string         `json:"script"`
	Scripts []string       `json:"scripts"`
	Obj     map[string]any `json:"obj"`
}

type result struct {
	Health   *healthStatus      `json:"health,omitempty"`
	Actions  []resourceAction   `json:"actions,omitempty"`
	Impacted []impactedResource `json:"impacted,omitempty"`
	Error    string             `json:"error,omitempty"`
}

// healthStatus is gitops-engine's pkg/health.HealthStatus.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// resourceAction is v1alpha1.ResourceAction (params left as JSON: none of ours take any).
type resourceAction struct {
	Name        string            `json:"name,omitempty"`
	Params      []json.RawMessage `json:"params,omitempty"`
	Disabled    bool              `json:"disabled,omitempty"`
	IconClass   string            `json:"iconClass,omitempty"`
	DisplayName string            `json:"displayName,omitempty"`
}

type impactedResource struct {
	Resource  map[string]any `json:"resource"`
	Operation string         `json:"operation"`
}

const (
	incorrectReturnType = "expect %s output from Lua script, not %s"
	invalidHealthStatus = "Lua returned an invalid health status"
)

var validHealth = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua: reading the request:", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(req.Cases))
	for _, c := range req.Cases {
		results = append(results, run(c))
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]any{"results": results}); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua: writing the results:", err)
		os.Exit(2)
	}
}

func run(c testCase) result {
	var out result
	var err error
	switch c.Mode {
	case "health":
		out.Health, err = executeHealthLua(c.Obj, c.Script)
	case "discovery":
		scripts := c.Scripts
		if len(scripts) == 0 {
			scripts = []string{c.Script}
		}
		out.Actions, err = executeResourceActionDiscovery(c.Obj, scripts)
	case "action":
		out.Impacted, err = executeResourceAction(c.Obj, c.Script)
	default:
		err = fmt.Errorf("unknown mode %q", c.Mode)
	}
	if err != nil {
		return result{Error: err.Error()}
	}
	return out
}

// runLua is VM.runLuaWithResourceActionParameters with UseOpenLibs false: what argocd-cm customizations get
// unless resource.customizations.useOpenLibs.<group_kind> is set. Only the package, base and table libraries
// and the safe os subset are there: no string, math, io or debug.
func runLua(obj map[string]any, script string) (*lua.LState, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(pair.f), NRet: 0, Protect: true}, lua.LString(pair.n)); err != nil {
			panic(err)
		}
	}
	l.PreloadModule(lua.OsLibName, safeOsLoader)

	ctx, cancel := context.WithTimeout(context.Background(), 1*time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, obj))

	fn, err := l.LoadString(script)
	if err == nil {
		l.Push(fn)
		err = l.PCall(0, lua.MultRet, nil)
	}
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = ""
		err = apiErr
	}
	return l, err
}

func executeHealthLua(obj map[string]any, script string) (*healthStatus, error) {
	l, err := runLua(obj, script)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	returnValue := l.Get(-1)
	switch returnValue.Type() {
	case lua.LTTable:
		jsonBytes, err := luajson.Encode(returnValue)
		if err != nil {
			return nil, err
		}
		status := &healthStatus{}
		if err := json.Unmarshal(jsonBytes, status); err != nil {
			typeError := &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeFor[*healthStatus]()}
			if errors.As(err, &typeError) {
				return &healthStatus{}, nil
			}
			return nil, err
		}
		if !validHealth[status.Status] {
			return &healthStatus{Status: "Unknown", Message: invalidHealthStatus}, nil
		}
		return status, nil
	case lua.LTNil:
		return &healthStatus{}, nil
	}
	return nil, fmt.Errorf(incorrectReturnType, "table", returnValue.Type().String())
}

func executeResourceActionDiscovery(obj map[string]any, scripts []string) ([]resourceAction, error) {
	available := map[string]resourceAction{}
	for _, script := range scripts {
		l, err := runLua(obj, script)
		if err != nil {
			return nil, err
		}
		returnValue := l.Get(-1)
		l.Close()
		if returnValue.Type() != lua.LTTable {
			return nil, fmt.Errorf(incorrectReturnType, "table", returnValue.Type().String())
		}
		jsonBytes, err := luajson.Encode(returnValue)
		if err != nil {
			return nil, fmt.Errorf("error in converting to lua table: %w", err)
		}
		if string(jsonBytes) == "[]" {
			continue
		}
		actionsMap := map[string]any{}
		if err := json.Unmarshal(jsonBytes, &actionsMap); err != nil {
			return nil, fmt.Errorf("error unmarshaling action table: %w", err)
		}
		for key, value := range actionsMap {
			action := resourceAction{Name: key, Disabled: isActionDisabled(value)}
			if _, exist := available[key]; exist {
				continue
			}
			if _, empty := value.([]any); empty {
				available[key] = action
				continue
			}
			raw, err := json.Marshal(value)
			if err != nil {
				return nil, fmt.Errorf("error marshaling resource action: %w", err)
			}
			if err := json.Unmarshal(raw, &action); err != nil {
				return nil, fmt.Errorf("error unmarshaling resource action: %w", err)
			}
			available[key] = action
		}
	}
	// Argo CD returns them in map order; sorted here so results compare.
	names := make([]string, 0, len(available))
	for name := range available {
		names = append(names, name)
	}
	sort.Strings(names)
	actions := make([]resourceAction, 0, len(names))
	for _, name := range names {
		actions = append(actions, available[name])
	}
	return actions, nil
}

func isActionDisabled(value any) bool {
	actions, ok := value.(map[string]any)
	if !ok {
		return false
	}
	for key, val := range actions {
		if vv, ok := val.(bool); ok && key == "disabled" {
			return vv
		}
	}
	return false
}

func executeResourceAction(obj map[string]any, script string) ([]impactedResource, error) {
	l, err := runLua(obj, script)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	returnValue := l.Get(-1)
	if returnValue.Type() != lua.LTTable {
		return nil, fmt.Errorf(incorrectReturnType, "table", returnValue.Type().String())
	}
	jsonBytes, err := luajson.Encode(returnValue)
	if err != nil {
		return nil, err
	}
	text := bytes.NewBuffer(jsonBytes).String()
	if len(text) < 2 {
		return nil, errors.New("Lua output was not a valid json object or array")
	}
	var impacted []impactedResource
	if text[0] == '[' && text[len(text)-1] == ']' {
		if err := json.Unmarshal(jsonBytes, &impacted); err != nil {
			return nil, err
		}
		for _, resource := range impacted {
			if resource.Operation != "create" && resource.Operation != "patch" {
				return nil, fmt.Errorf("unsupported operation: %q", resource.Operation)
			}
		}
	} else {
		newObj := map[string]any{}
		if err := json.Unmarshal(jsonBytes, &newObj); err != nil {
			return nil, err
		}
		impacted = append(impacted, impactedResource{Resource: newObj, Operation: "patch"})
	}
	for i := range impacted {
		if impacted[i].Operation == "patch" {
			impacted[i].Resource = cleanReturnedObj(impacted[i].Resource, obj)
		}
	}
	return impacted, nil
}

// cleanReturnedObj: Lua cannot tell an empty object from an empty array, and gopher-json encodes an empty
// table as []; an empty array where the original had an object becomes an object again.
func cleanReturnedObj(newObj, obj map[string]any) map[string]any {
	for key := range obj {
		newValue, ok := newObj[key]
		if !ok {
			continue
		}
		switch nv := newValue.(type) {
		case map[string]any:
			if ov, ok := obj[key].(map[string]any); ok {
				newObj[key] = cleanReturnedObj(nv, ov)
			}
		case []any:
			switch ov := obj[key].(type) {
			case map[string]any:
				if len(nv) == 0 {
					newObj[key] = map[string]any{}
				}
			case []any:
				newObj[key] = cleanReturnedArray(nv, ov)
			}
		}
	}
	return newObj
}

func cleanReturnedArray(newObj, obj []any) []any {
	for i := range newObj {
		if i >= len(obj) {
			break
		}
		switch nv := newObj[i].(type) {
		case map[string]any:
			if ov, ok := obj[i].(map[string]any); ok {
				newObj[i] = cleanReturnedObj(nv, ov)
			}
		case []any:
			if ov, ok := obj[i].([]any); ok {
				newObj[i] = cleanReturnedArray(nv, ov)
			}
		}
	}
	return newObj
}

// decodeValue turns the decoded JSON object into Lua values as Argo CD does (json.Number as a string).
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case json.Number:
		return lua.LString(converted)
	case int:
		return lua.LNumber(converted)
	case int32:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case []any:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// --- Argo CD's safe subset of the os library (util/lua/oslib_safe.go): os.time and os.date only ---------

var osFuncs = map[string]lua.LGFunction{"time": osTime, "date": osDate}

func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.TabLibName, osFuncs))
	return 1
}

func safeOsLoader(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), osFuncs))
	return 1
}

func osTime(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(time.Now().Unix()))
		return 1
	}
	tbl := l.CheckTable(1)
	t := time.Date(
		intField(tbl, "year", -1), time.Month(intField(tbl, "month", -1)), intField(tbl, "day", -1),
		intField(tbl, "hour", 12), intField(tbl, "min", 0), intField(tbl, "sec", 0), 0, time.Local,
	)
	l.Push(lua.LNumber(t.Unix()))
	return 1
}

func intField(tb *lua.LTable, key string, v int) int {
	if ln, ok := tb.RawGetString(key).(lua.LNumber); ok {
		return int(ln)
	}
	return v
}

func osDate(l *lua.LState) int {
	t := time.Now()
	cfmt := "%c"
	if l.GetTop() >= 1 {
		cfmt = l.CheckString(1)
		if strings.HasPrefix(cfmt, "!") {
			t = time.Now().UTC()
			cfmt = strings.TrimLeft(cfmt, "!")
		}
		if l.GetTop() >= 2 {
			t = time.Unix(l.CheckInt64(2), 0)
		}
		if strings.HasPrefix(cfmt, "*t") {
			ret := l.NewTable()
			for key, value := range map[string]int{
				"year": t.Year(), "month": int(t.Month()), "day": t.Day(), "hour": t.Hour(),
				"min": t.Minute(), "sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": 0,
			} {
				ret.RawSetString(key, lua.LNumber(value))
			}
			ret.RawSetString("isdst", lua.LFalse)
			l.Push(ret)
			return 1
		}
	}
	l.Push(lua.LString(strftime(t, cfmt)))
	return 1
}

var cDateFlagToGo = map[byte]string{
	'a': "mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "02 Jan 06 15:04 MST", 'd': "02",
	'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM", 'P': "pm", 'S': "05",
	'x': "15/04/05", 'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
}

// strftime is oslib_safe.go's, with its flag scanner unrolled: %% is a percent sign, a known flag is
// formatted, an unknown one is kept as written, and a lone % at the end is kept.
func strftime(t time.Time, cfmt string) string {
	var out strings.Builder
	for i := 0; i < len(cfmt); i++ {
		c := cfmt[i]
		if c != '%' {
			out.WriteByte(c)
			continue
		}
		if i+1 >= len(cfmt) {
			out.WriteByte('%')
			break
		}
		i++
		flag := cfmt[i]
		switch {
		case flag == '%':
			out.WriteByte('%')
		case cDateFlagToGo[flag] != "":
			out.WriteString(t.Format(cDateFlagToGo[flag]))
		case flag == 'w':
			out.WriteString(strconv.Itoa(int(t.Weekday())))
		default:
			out.WriteByte('%')
			out.WriteByte(flag)
		}
	}
	return out.String()
}
