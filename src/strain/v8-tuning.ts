import { setFlagsFromString } from 'node:v8';

/**
 * Must run before h5wasm compiles its WebAssembly (hdf5.ts imports this module first).
 *
 * `--liftoff-only` keeps the HDF5 library on V8's baseline wasm compiler. Measured on the 4096 s
 * replay: TurboFan tier-up of the hot HDF5/zlib functions costs ~10 MB of resident memory and buys
 * no speed for 32 KiB hyperslab reads (0.43 ms vs 0.50 ms per slice), and resident memory is what
 * the 100 MB budget of a reader process is about. It only affects WebAssembly; JavaScript is
 * compiled as usual.
 */
setFlagsFromString('--liftoff-only');
