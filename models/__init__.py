"""The domain and its storage: attendance sessions, breakouts, presence, tokens, migrations."""
