import FuzzDriver

runFuzzer { data, count in fuzzLanguage(data, count) }
