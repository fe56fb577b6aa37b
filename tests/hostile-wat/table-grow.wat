;; One `table.grow` of 2^31 - 1 elements: 16 GiB of table asked for in one instruction. If the host
;; lets it fail quietly (-1), the plugin traps on `unreachable`, which names no limit.
(core module $attack
  (table $elements 0 funcref)
  (func (export "verify") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (if (i32.eq (table.grow $elements (ref.null func) (i32.const 0x7fffffff)) (i32.const -1))
      (then unreachable))
    (i32.const 256)))
(core instance $plugin (instantiate $attack))
