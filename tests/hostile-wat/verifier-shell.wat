;; The shell every hand-written hostile verifier shares: the `upshift:plugin/verifier@0.1.0` export,
;; lifted from a core instance `$plugin` that the attack defines. `$plugin` must export `verify`, the
;; core function of 16 i32 parameters (the flattened `check` and `config`) returning a pointer to
;; the `result<verdict, plugin-error>` in `$abi`'s memory. The types and the shim component mirror
;; what wit-component emits for a Rust plugin. The test puts the attack's modules and instances
;; (tests/hostile-wat/<attack>.wat) in place of the ATTACK line below.
(component
  (type $types-type
    (instance
      (type $error-kind (enum "invalid-config" "unavailable" "denied" "conflict" "internal"))
      (export "error-kind" (type $error-kind' (eq $error-kind)))
      (type $plugin-error (record (field "kind" $error-kind') (field "message" string) (field "retryable" bool)))
      (export "plugin-error" (type (eq $plugin-error)))
      (type $outcome (enum "pass" "fail" "inconclusive"))
      (export "outcome" (type $outcome' (eq $outcome)))
      (type $measurement (record (field "name" string) (field "value" f64) (field "unit" (option string))))
      (export "measurement" (type $measurement' (eq $measurement)))
      (type $verdict (record (field "outcome" $outcome') (field "reason" string) (field "measurements" (list $measurement'))))
      (export "verdict" (type (eq $verdict)))
    )
  )
  (import "upshift:plugin/types@0.1.0" (instance $types (type $types-type)))
  (alias export $types "error-kind" (type $error-kind))
  (alias export $types "plugin-error" (type $plugin-error))
  (alias export $types "outcome" (type $outcome))
  (alias export $types "measurement" (type $measurement))
  (alias export $types "verdict" (type $verdict))
  (type $check (record
    (field "rollout-id" string) (field "stage-index" u32) (field "stage-name" string)
    (field "from-version" string) (field "to-version" string) (field "weight" (option u8))
    (field "units" (list string)) (field "attempt" u32)))

  ;; The canonical ABI's side: the memory the host writes the arguments into, a bump allocator, and
  ;; the answer an attack returns if it gets to the end of its call: at offset 256, a
  ;; `result<verdict, plugin-error>` that is a passing verdict whose reason is "ESCAPED".
  (core module $abi
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param $old i32) (param $old-size i32) (param $align i32) (param $size i32) (result i32)
      (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (local.get $at) (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8))))
      (local.get $at))
    ;; ok, outcome pass, reason (ptr 512, len 7), no measurements.
    (data (i32.const 256) "\00\00\00\00" "\00\00\00\00" "\00\02\00\00" "\07\00\00\00" "\00\00\00\00" "\00\00\00\00")
    (data (i32.const 512) "ESCAPED"))
  (core instance $abi (instantiate $abi))

  ;; The attack: defines `(core instance $plugin ...)` exporting `verify`, which returns 256 if it
  ;; gets that far.
  ;; ATTACK

  (func $verify (param "check" $check) (param "config" string) (result (result $verdict (error $plugin-error)))
    (canon lift (core func $plugin "verify") (memory $abi "memory") (realloc (func $abi "realloc"))))

  ;; Names the exported interface's types, as the component model requires of an export.
  (component $shim
    (type $error-kind' (enum "invalid-config" "unavailable" "denied" "conflict" "internal"))
    (import "import-type-error-kind" (type $error-kind (eq $error-kind')))
    (type $plugin-error' (record (field "kind" $error-kind) (field "message" string) (field "retryable" bool)))
    (import "import-type-plugin-error" (type $plugin-error (eq $plugin-error')))
    (type $outcome' (enum "pass" "fail" "inconclusive"))
    (import "import-type-outcome" (type $outcome (eq $outcome')))
    (type $measurement' (record (field "name" string) (field "value" f64) (field "unit" (option string))))
    (import "import-type-measurement" (type $measurement (eq $measurement')))
    (type $verdict' (record (field "outcome" $outcome) (field "reason" string) (field "measurements" (list $measurement))))
    (import "import-type-verdict" (type $verdict (eq $verdict')))
    (type $check' (record
      (field "rollout-id" string) (field "stage-index" u32) (field "stage-name" string)
      (field "from-version" string) (field "to-version" string) (field "weight" (option u8))
      (field "units" (list string)) (field "attempt" u32)))
    (import "import-type-check" (type $check (eq $check')))
    (import "import-func-verify" (func $verify
      (param "check" $check) (param "config" string) (result (result $verdict (error $plugin-error)))))
    (export $plugin-error-out "plugin-error" (type $plugin-error))
    (export $verdict-out "verdict" (type $verdict))
    (export $check-out "check" (type $check'))
    (export "verify" (func $verify)
      (func (param "check" $check-out) (param "config" string) (result (result $verdict-out (error $plugin-error-out)))))
  )
  (instance $verifier (instantiate $shim
    (with "import-func-verify" (func $verify))
    (with "import-type-error-kind" (type $error-kind))
    (with "import-type-plugin-error" (type $plugin-error))
    (with "import-type-outcome" (type $outcome))
    (with "import-type-measurement" (type $measurement))
    (with "import-type-verdict" (type $verdict))
    (with "import-type-check" (type $check))))
  (export "upshift:plugin/verifier@0.1.0" (instance $verifier))
)
