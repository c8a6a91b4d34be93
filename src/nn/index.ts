export { Module, setInitSeed, nextInitSeed } from './module.js';
export { Linear } from './linear.js';
export { LayerNorm } from './layernorm.js';
export { Embedding } from './embedding.js';
export { Dropout, DropoutRng } from './dropout.js';
