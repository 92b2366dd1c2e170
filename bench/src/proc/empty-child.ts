// Nothing: timing this process gives the cost of starting Node with tsx, for the cold-start figure.
export {}
