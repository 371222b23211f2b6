//go:build !race

package zfec

// raceEnabled makes the slowest exhaustive tests sample under -race.
const raceEnabled = false
