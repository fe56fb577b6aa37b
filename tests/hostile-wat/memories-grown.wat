;; Several linear memories, each grown during the call to just under the limit the test grants
;; (`memory_mib = 16`): seven arenas, each a core instance with its own memory, grow by 255 pages
;; (15.9 MiB) apiece, 111 MiB together. Counted one memory at a time, every growth would pass.
(core module $arena
  (memory (export "memory") 0)
  ;; Grows the memory to 255 pages, whatever it held before (a later call asks for nothing more).
  (func (export "fill") (result i32) (memory.grow (i32.sub (i32.const 255) (memory.size)))))
(core instance $a1 (instantiate $arena))
(core instance $a2 (instantiate $arena))
(core instance $a3 (instantiate $arena))
(core instance $a4 (instantiate $arena))
(core instance $a5 (instantiate $arena))
(core instance $a6 (instantiate $arena))
(core instance $a7 (instantiate $arena))
(core module $attack
  (import "a1" "fill" (func $fill1 (result i32)))
  (import "a2" "fill" (func $fill2 (result i32)))
  (import "a3" "fill" (func $fill3 (result i32)))
  (import "a4" "fill" (func $fill4 (result i32)))
  (import "a5" "fill" (func $fill5 (result i32)))
  (import "a6" "fill" (func $fill6 (result i32)))
  (import "a7" "fill" (func $fill7 (result i32)))
  (func (export "verify") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (drop (call $fill1))
    (drop (call $fill2))
    (drop (call $fill3))
    (drop (call $fill4))
    (drop (call $fill5))
    (drop (call $fill6))
    (drop (call $fill7))
    (i32.const 256)))
(core instance $plugin (instantiate $attack (with "a1" (instance $a1)) (with "a2" (instance $a2)) (with "a3" (instance $a3)) (with "a4" (instance $a4)) (with "a5" (instance $a5)) (with "a6" (instance $a6)) (with "a7" (instance $a7))))
