package dev.lora4j;

final class Placeholder {}
