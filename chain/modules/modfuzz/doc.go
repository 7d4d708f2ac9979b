// Package modfuzz holds the fuzz target for the system modules' calldata (FuzzModuleCalldata in
// its test file): every module method, decoded from arbitrary bytes, must end in success or a
// revert, never in a panic. It has no code of its own.
package modfuzz
