/** Text generation on a compiled model: greedy, temperature, top-k and top-p sampling. */
package dev.lora4j.generate;
