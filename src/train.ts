#!/usr/bin/env node
// node dist/train.js (the shadergrad-train bin): the fine-tuning job's command line, in src/cli/.

import './node/sources.js'; // models and tokenizers from local folders and the Hugging Face cache
import { main } from './cli/main.js';

process.exit(await main(process.argv.slice(2)));
