// Placeholder so the target builds before its code lands.
