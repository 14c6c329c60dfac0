package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eventrouter/eventrouter/schemas"
)

// The --format github output: one workflow command per finding or change
// (https://docs.github.com/actions/reference/workflow-commands-for-github-actions),
// a closing plain line for the log, and, when GITHUB_STEP_SUMMARY names a
// file, a markdown section appended to it.
//
// Levels: findings use their severity (error or warning). Diff changes:
// breaking ones and rules changed without a version bump are errors
// (breaking ones are warnings under --allow-breaking); non-breaking changes
// that change a warehouse column's type (type widened, format removed) are
// warnings; other non-breaking changes are notices.

// annotation is one workflow command.
type annotation struct {
	level     string // error, warning or notice
	file      string
	line, col int
	title     string
	message   string
}

// String formats the command with GitHub's escaping: %, CR and LF in the
// message; those and ':' and ',' in property values.
func (a annotation) String() string {
	var props []string
	if a.file != "" {
		props = append(props, "file="+escapeProperty(a.file))
		if a.line > 0 {
			props = append(props, "line="+strconv.Itoa(a.line))
			if a.col > 0 {
				props = append(props, "col="+strconv.Itoa(a.col))
			}
		}
	}
	if a.title != "" {
		props = append(props, "title="+escapeProperty(a.title))
	}
	cmd := "::" + a.level
	if len(props) > 0 {
		cmd += " " + strings.Join(props, ",")
	}
	return cmd + "::" + escapeData(a.message)
}

var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func escapeData(s string) string     { return dataEscaper.Replace(s) }
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }

// repoPath returns the path of file (relative to the plan directory dir)
// as GitHub wants it in annotations: relative to $GITHUB_WORKSPACE (the
// repository root in a workflow) or, outside one, to the working directory.
func repoPath(getenv func(string) string, dir, file string) string {
	p := filepath.Join(dir, filepath.FromSlash(file))
	root := getenv("GITHUB_WORKSPACE")
	if root == "" {
		root, _ = os.Getwd()
	}
	if abs, err := filepath.Abs(p); err == nil && root != "" {
		if rel, err := filepath.Rel(root, abs); err == nil && filepath.IsLocal(rel) {
			p = rel
		}
	}
	return filepath.ToSlash(p)
}

// findingPosition returns where a finding points: the JSON pointer located
// in its file when both are known, else the finding's own line.
func findingPosition(dir string, f schemas.Finding, cache map[string][]byte) schemas.Position {
	if f.Pointer == "" || !strings.HasSuffix(f.File, ".json") {
		return schemas.Position{Line: f.Line}
	}
	data, ok := cache[f.File]
	if !ok {
		data, _ = os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.File)))
		cache[f.File] = data
	}
	if data == nil {
		return schemas.Position{Line: f.Line}
	}
	pos, _ := schemas.Locate(data, f.Pointer)
	return pos
}

// planTitle names a command's check in annotation titles and summaries.
func planTitle(cmd string) string {
	switch cmd {
	case "lint":
		return "Tracking plan lint"
	case "test":
		return "Tracking plan fixtures"
	}
	return "Tracking plan diff"
}

// githubFindings prints lint or fixture findings as annotations and
// appends the step summary.
func githubFindings(o Options, fs []schemas.Finding) error {
	title := planTitle(o.Command)
	if o.Command == "diff" {
		title = "Tracking plan does not load"
	}
	cache := map[string][]byte{}
	var rows [][]string
	for _, f := range fs {
		level := "error"
		if f.Severity == schemas.SeverityWarning {
			level = "warning"
		}
		path := repoPath(o.Getenv, o.Dir, f.File)
		pos := findingPosition(o.Dir, f, cache)
		a := annotation{level: level, file: path, line: pos.Line, col: pos.Col, title: title, message: f.Message}
		if f.Pointer != "" {
			a.message = f.Pointer + ": " + f.Message
		}
		if _, err := fmt.Fprintln(o.Stdout, a); err != nil {
			return fmt.Errorf("writing annotations: %w", err)
		}
		line := ""
		if pos.Line > 0 {
			line = strconv.Itoa(pos.Line)
		}
		rows = append(rows, []string{mdCode(path), line, mdCode(f.Pointer), mdText(f.Message)})
	}
	var status string
	if len(fs) == 0 {
		status = fmt.Sprintf("%s: no findings in %s", title, o.Dir)
	} else {
		status = fmt.Sprintf("%s: %s in %s", title, plural(len(fs), "finding"), o.Dir)
	}
	if _, err := fmt.Fprintln(o.Stdout, status); err != nil {
		return fmt.Errorf("writing annotations: %w", err)
	}

	var md strings.Builder
	if len(fs) == 0 {
		fmt.Fprintf(&md, "### %s: all clear\n\nNo findings in %s.\n\n", title, mdCode(o.Dir))
	} else {
		fmt.Fprintf(&md, "### %s: %s\n\nIn %s:\n\n", title, plural(len(fs), "finding"), mdCode(o.Dir))
		mdTable(&md, []string{"File", "Line", "Pointer", "Problem"}, rows)
	}
	return appendSummary(o.Getenv, md.String())
}

// githubDiff prints diff changes as annotations and appends the step summary.
func githubDiff(o Options, head *schemas.Plan, changes []schemas.Change) error {
	var rows [][]string
	for _, c := range changes {
		a := annotation{level: "notice", file: repoPath(o.Getenv, o.Dir, c.File), title: "Tracking plan change (" + c.Kind + ")"}
		if pos, ok := head.Position(c.File, c.Pointer()); ok {
			a.line, a.col = pos.Line, pos.Col
		}
		breaking := "no"
		switch {
		case c.Class == schemas.ClassError:
			a.level, a.title, breaking = "error", "x-segment-version not bumped", "**error**"
		case c.Class == schemas.Breaking:
			a.level, a.title, breaking = "error", "Breaking tracking plan change ("+c.Kind+")", "**yes**"
			if o.AllowBreaking {
				a.level, breaking = "warning", "**yes** (allowed)"
			}
		case c.Kind == schemas.KindTypeWidened || c.Kind == schemas.KindFormatRemoved:
			a.level = "warning"
		}
		subject := ruleLabel(c)
		a.message = subject + ": " + c.Message
		if c.Kind == schemas.KindEventAdded || c.Kind == schemas.KindEventRemoved {
			a.message = c.Message // it names the event
		}
		if c.Downstream != "" {
			a.message += "\nDownstream: " + c.Downstream
		}
		if _, err := fmt.Fprintln(o.Stdout, a); err != nil {
			return fmt.Errorf("writing annotations: %w", err)
		}
		// The table names the rule and the field: the change says the rest.
		msg := strings.TrimPrefix(c.Message, fmt.Sprintf("event %q ", c.Key))
		if c.Field != "" {
			msg = strings.TrimPrefix(strings.TrimPrefix(msg, c.Field+": "), c.Field+" ")
		}
		rows = append(rows, []string{mdText(subject), mdCode(c.Field), mdText(msg), breaking, mdText(c.Downstream)})
	}
	title := fmt.Sprintf("Tracking plan diff against %s", o.Base)
	tally := "no changes"
	if len(changes) > 0 {
		tally = diffTally(changes)
	}
	if _, err := fmt.Fprintf(o.Stdout, "%s: %s\n", title, tally); err != nil {
		return fmt.Errorf("writing annotations: %w", err)
	}

	var md strings.Builder
	fmt.Fprintf(&md, "### Tracking plan diff against %s: %s\n\n", mdCode(o.Base), tally)
	if len(changes) == 0 {
		fmt.Fprintf(&md, "%s has the same rules as the base.\n\n", mdCode(o.Dir))
		return appendSummary(o.Getenv, md.String())
	}
	mdTable(&md, []string{"Event / rule", "Property", "Change", "Breaking?", "Downstream effect"}, rows)
	switch {
	case hasClass(changes, schemas.ClassError):
		md.WriteString("A changed rule must bump its `x-segment-version`: this check fails until it does.\n\n")
	case schemas.HasBreaking(changes) && o.AllowBreaking:
		md.WriteString("Breaking changes are allowed for this pull request (`--allow-breaking`).\n\n")
	case schemas.HasBreaking(changes):
		md.WriteString("Breaking changes fail this check: senders and destinations must be ready for them first " +
			"(when they are, the pull request's breaking-change label lets them through).\n\n")
	default:
		md.WriteString("No breaking changes.\n\n")
	}
	return appendSummary(o.Getenv, md.String())
}

// ruleLabel names a change's rule: the event name for a track rule, else
// the rule type (and key) in lower case.
func ruleLabel(c schemas.Change) string {
	if c.RuleType == schemas.RuleTrack {
		return fmt.Sprintf("event %q", c.Key)
	}
	t := strings.ToLower(string(c.RuleType))
	if c.Key != "" {
		return fmt.Sprintf("%s %q", t, c.Key)
	}
	return t + " rule"
}

// appendSummary appends markdown to the file GITHUB_STEP_SUMMARY names, if any.
func appendSummary(getenv func(string) string, md string) error {
	name := getenv("GITHUB_STEP_SUMMARY")
	if name == "" {
		return nil
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("writing the step summary: %w", err)
	}
	if _, err := f.WriteString(md); err != nil {
		f.Close()
		return fmt.Errorf("writing the step summary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the step summary: %w", err)
	}
	return nil
}

// mdTable writes a markdown table.
func mdTable(b *strings.Builder, header []string, rows [][]string) {
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	b.WriteString("\n")
}

var mdEscaper = strings.NewReplacer("|", `\|`, "\r", "", "\n", "<br>", "<", "&lt;", ">", "&gt;")

// mdText escapes s for a markdown table cell.
func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCode formats s as inline code in a table cell ("" stays empty).
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("|", `\|`, "\r", "", "\n", " ").Replace(s)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// plural formats n and a noun, e.g. "1 finding", "3 findings".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
