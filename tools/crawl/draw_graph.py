"""draw_graph.py - draws a graph.tsv written by simul-crawl with networkx
and matplotlib (the picture in docs/guide.md, docs/crawl-graph.png):
the HTML pages, coloured by their top-level section, sized by in-degree.
    /usr/bin/python3 tools/crawl/draw_graph.py crawl/graph.tsv docs/crawl-graph.png"""
import sys
from urllib.parse import urlsplit
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import networkx as nx

g = nx.read_edgelist(sys.argv[1], delimiter='\t', create_using=nx.DiGraph)
g = g.subgraph([n for n in g if urlsplit(n).path.endswith('.html')]).copy()
g.remove_edges_from(nx.selfloop_edges(g))
# the navigation every page links (index, genindex, search, ...) would hide
# the structure: leave out the pages more than a third of all link to
hubs = [n for n, d in g.in_degree() if d > g.number_of_nodes() / 3]
g.remove_nodes_from(hubs)
g = g.subgraph(max(nx.weakly_connected_components(g), key=len)).copy()
def section(n):
    p = urlsplit(n).path.strip('/').split('/')
    return p[0] if len(p) > 1 else '(top)'
secs = sorted({section(n) for n in g})
cmap = plt.get_cmap('tab20')
colour = {s: cmap(i % 20) for i, s in enumerate(secs)}
pos = nx.spring_layout(g, k=0.35, iterations=80, seed=7)
indeg = dict(g.in_degree())
fig, ax = plt.subplots(figsize=(9, 9), dpi=80)
nx.draw_networkx_edges(g, pos, ax=ax, alpha=0.04, arrows=False, width=0.5)
nx.draw_networkx_nodes(g, pos, ax=ax, node_size=[4 + indeg[n] * 0.6 for n in g],
                       node_color=[colour[section(n)] for n in g], linewidths=0)
for s in secs:
    ax.scatter([], [], color=colour[s], label=s)
ax.legend(loc='lower left', fontsize=8, frameon=False, ncol=2)
ax.set_title(f'Python docs as crawled by simul-crawl (graph.tsv): {g.number_of_nodes()} pages, '
             f'{g.number_of_edges()} links; {len(hubs)} navigation hubs left out')
ax.axis('off')
fig.tight_layout()
fig.savefig(sys.argv[2])
print(g.number_of_nodes(), g.number_of_edges())
