package webapi

import "testing"

// TestPagesParse parses every page template: they are parsed lazily, so a
// broken one would otherwise show only when its page is first asked for.
func TestPagesParse(t *testing.T) {
	for name, p := range map[string]func() any{
		"welcome":    func() any { return welcomePage() },
		"statistics": func() any { return statisticsPage() },
		"info":       func() any { return infoPage() },
		"uploaded":   func() any { return uploadedPage() },
		"dir":        func() any { return dirPage() },
		"renameForm": func() any { return renameFormPage() },
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s page: %v", name, r)
				}
			}()
			p()
		}()
	}
}
