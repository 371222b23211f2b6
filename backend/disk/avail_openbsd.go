package disk

import "golang.org/x/sys/unix"

// available returns the bytes free to unprivileged users of the file
// system holding dir: f_bavail blocks of f_bsize bytes.
func available(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	// Negative once root has eaten into the reserve.
	blocks := max(st.F_bavail, 0)
	return uint64(blocks) * uint64(st.F_bsize), nil
}
