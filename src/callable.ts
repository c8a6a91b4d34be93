// Callable: the base of classes whose instances are called like functions, as transformers.js'
// Callable and torch's nn.Module.__call__: tokenizer(texts), model(inputs), layer(x).

/**
 * Instances of a subclass are functions that run its `call` method (built without `new Function`,
 * which a browser's content security policy may forbid). Their prototype chain is the class's
 * alone, so Function.prototype's methods (apply, bind) are not there.
 */
export abstract class Callable {
  constructor() {
    const self = (...args: unknown[]): unknown => (self as unknown as { call(...a: unknown[]): unknown }).call(...args);
    return Object.setPrototypeOf(self, new.target.prototype) as Callable;
  }
}
