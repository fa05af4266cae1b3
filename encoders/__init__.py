"""Built-in encoder wrappers, one file per family; installed as the package `bench.encoders`.

`BUILTIN` maps each registered name to its class ("module:Class", relative to this package) and the
constructor arguments that make that name. Modules are imported only when the name is used.
"""

BUILTIN: dict[str, tuple[str, dict]] = {
    "logmel": ("baselines:LogMel", {}),
    "mfcc": ("baselines:MFCC", {}),
}
