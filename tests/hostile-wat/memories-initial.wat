;; Several linear memories declared at just under the limit the test grants (`memory_mib = 16`):
;; seven arenas of 255 pages (15.9 MiB) each, 111 MiB together, all allocated when the plugin is
;; instantiated, before any call.
(core module $arena
  (memory (export "memory") 255))
(core instance $a1 (instantiate $arena))
(core instance $a2 (instantiate $arena))
(core instance $a3 (instantiate $arena))
(core instance $a4 (instantiate $arena))
(core instance $a5 (instantiate $arena))
(core instance $a6 (instantiate $arena))
(core instance $a7 (instantiate $arena))
(core module $attack
  (func (export "verify") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.const 256)))
(core instance $plugin (instantiate $attack))
